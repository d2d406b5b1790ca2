/** A validation issue: where (a path) and what. Matches zod's issue shape. */
export interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** One line per issue: `  - grants[0].postgres[0].usernames[1]: "x" is not in …`. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`).join('\n');
}

/** `['grants', 0, 'principal']` → `grants[0].principal`; the root is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
