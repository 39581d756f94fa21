/** A node of a text tree; labels must already be escaped by the caller's renderer. */
export interface TreeNode {
  label: string;
  children?: TreeNode[];
}

export function renderTree(nodes: TreeNode[], prefix = ''): string {
  const lines: string[] = [];
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    const [first, ...rest] = n.label.split('\n');
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${first}`);
    const cont = prefix + (last ? '   ' : '│  ');
    for (const r of rest) lines.push(cont + r);
    if (n.children?.length) lines.push(renderTree(n.children, cont));
  });
  return lines.join('\n');
}
