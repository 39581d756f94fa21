import chalk, { Chalk, type ChalkInstance } from 'chalk';

/** Colour only for a terminal, and never when NO_COLOR is set or --no-color given. */
export function makeStyle(enabled: boolean | undefined): ChalkInstance {
  const tty = process.stdout.isTTY === true;
  const on = enabled !== false && tty && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  return new Chalk({ level: on ? chalk.level || 1 : 0 });
}
