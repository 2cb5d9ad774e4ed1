import { describeError } from '../shared/errors.js';

/** A sub-command: receives its own arguments, returns the process exit code. */
export type Command = (args: string[]) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

/** Sub-commands are loaded lazily so `tracefence scan` does not pay for Kafka or cloud clients. */
const COMMANDS: Record<string, CommandEntry> = {
  scan: {
    summary: 'Classify and mask JSON Lines ({"id","text"}) from stdin',
    load: async () => (await import('./scan-command.js')).scanCommand,
  },
  topics: {
    summary: 'Create the project topics on the configured Kafka cluster',
    load: async () => (await import('./topics-command.js')).topicsCommand,
  },
  audit: {
    summary: 'Verify a region\'s audit hash chain: audit verify --region <r>',
    load: async () => (await import('./audit-command.js')).auditCommand,
  },
  evidence: {
    summary: 'Residency evidence for a trace, or a tenant over a time range',
    load: async () => (await import('./evidence-command.js')).evidenceCommand,
  },
  reconcile: {
    summary: 'Prove ingested = routed + held + dead-lettered and routed = stored',
    load: async () => (await import('./reconcile-command.js')).reconcileCommand,
  },
  review: {
    summary: 'Review held traces: review list|show|approve|reject (reviewer API)',
    load: async () => (await import('./review-command.js')).reviewCommand,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: tracefence <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    process.stderr.write(`tracefence: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command(rest);
  } catch (err) {
    process.stderr.write(`tracefence ${name}: ${describeError(err)}\n`);
    return 1;
  }
}
