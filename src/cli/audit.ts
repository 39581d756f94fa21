import type { ChalkInstance } from 'chalk';
import type { Argv } from 'yargs';
import { audit, type AuditReport, type AuditSeverity } from '../analysis/audit.js';
import { escapeText } from '../render/escape.js';
import { shortHex } from '../render/format.js';
import { table } from '../render/table.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

/**
 * Exit status of `audit` when at least one finding is of high severity. It takes precedence over
 * 3 (partial): a high finding on what could be read is the answer that matters.
 * (Not in exit.ts, which this command's author does not own; the README's exit-code table lists it.)
 */
export const EXIT_AUDIT_HIGH = 6;

export const command = 'audit';
export const describe =
  'Security findings with severity and MITRE ATT&CK technique: escape to host (T1611), deploy container (T1610), ' +
  'persistence by restart policy (T1543.005), exposed ports (T1133), secrets in environment variables (T1552.001). ' +
  `Exits ${EXIT_AUDIT_HIGH} when anything of high severity is found`;

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .option('show-secrets', { type: 'boolean', describe: 'show the values of secret-looking environment variables (masked by default)' })
    .option('min-severity', { choices: ['high', 'medium', 'low', 'info'] as const, default: 'info' as const, describe: 'only findings at least this severe' });

/** The exit status: EXIT_AUDIT_HIGH when anything is of high severity, else the answered status (0, or 3 = partial). */
export function auditStatus(report: AuditReport, answered: number): number {
  return report.counts.high > 0 ? EXIT_AUDIT_HIGH : answered;
}

const RANK: Record<AuditSeverity, number> = { high: 0, medium: 1, low: 2, info: 3 };

/** The findings table; cells are escaped by table() (names, paths and values come from evidence). */
export function auditTable(report: AuditReport, style: ChalkInstance): string {
  if (report.findings.length === 0) return `No findings in ${report.containers} containers and ${report.images} images.`;
  const colour: Record<AuditSeverity, (s: string) => string> = { high: style.red.bold, medium: style.yellow, low: style.cyan, info: (s) => s };
  const rows = report.findings.map((f) => [
    colour[f.severity](f.severity.toUpperCase()),
    f.technique,
    `${f.subject.kind === 'container' ? '' : 'image '}${escapeText(f.subject.name ?? shortHex(f.subject.id))}`,
    f.title,
    `${f.value}`,
  ]);
  const summary = `${report.findings.length} findings (${report.counts.high} high, ${report.counts.medium} medium, ${report.counts.low} low, ${report.counts.info} info) in ${report.containers} containers and ${report.images} images` + (report.secretsShown ? '' : '; secret values masked (--show-secrets)');
  return table(['SEVERITY', 'TECHNIQUE', 'SUBJECT', 'FINDING', 'VALUE'], rows, { trusted: [0, 1, 2] }) + '\n\n' + summary;
}

export const handler = (argv: GlobalArgs & { 'show-secrets'?: boolean; 'min-severity'?: AuditSeverity }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const report = audit(ctx.model, { showSecrets: argv['show-secrets'] === true });
    const min = RANK[argv['min-severity'] ?? 'info'];
    const findings = report.findings.filter((f) => RANK[f.severity] <= min);
    const counts = { high: 0, medium: 0, low: 0, info: 0 };
    for (const f of findings) counts[f.severity]++;
    const shown: AuditReport = { ...report, findings, counts };
    if (ctx.json) printJson(shown);
    else print(auditTable(shown, ctx.style));
    return auditStatus(report, answeredStatus(ctx));
  });
