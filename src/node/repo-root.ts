import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is src/node/repo-root.ts): where models/, native/, docs/ are. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
