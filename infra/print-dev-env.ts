/** Prints `export NAME=value` lines for the services' environment on the local stack: eval "$(infra/stack.sh env)". */
import { join } from 'node:path';
import { devServiceEnv, readStackEnv } from './stack-env.js';

const env = devServiceEnv(readStackEnv(), join(import.meta.dirname, '..'));
const quote = (v: string): string => `'${v.replaceAll("'", "'\\''")}'`;
process.stdout.write(Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`).join('\n') + '\n');
