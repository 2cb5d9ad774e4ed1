/**
 * `tracefence topics [--partitions N]`: creates the ingest, dead-letter, audit, held and region
 * topics (regions from the policy file) on TRACEFENCE_KAFKA_BROKERS. Existing topics are left as they are.
 */
import { parseArgs } from 'node:util';
import { EnvReader } from '../shared/config.js';
import { createKafka, ensureTopics } from '../shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../shared/kafka/project-topics.js';
import { loadPolicy } from '../policy/load-policy.js';

export async function topicsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { partitions: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) {
    process.stdout.write('Usage: tracefence topics [--partitions N]\nReads TRACEFENCE_KAFKA_BROKERS, TRACEFENCE_POLICY_FILE and TRACEFENCE_TOPIC_* from the environment.\n');
    return 0;
  }
  const r = new EnvReader(process.env);
  const partitions = Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) r.problem('--partitions', 'must be an integer from 1 to 1000');
  const config = r.done({
    brokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    policyFile: r.string('TRACEFENCE_POLICY_FILE'),
    ingest: r.string('TRACEFENCE_TOPIC_INGEST', 'traces.ingest'),
    deadLetter: r.string('TRACEFENCE_TOPIC_DEADLETTER', 'traces.deadletter'),
    audit: r.string('TRACEFENCE_TOPIC_AUDIT', 'traces.audit'),
    held: r.string('TRACEFENCE_TOPIC_HELD', 'traces.held'),
  });
  const policy = await loadPolicy(config.policyFile);
  const admin = createKafka({ brokers: [...config.brokers], clientId: 'tracefence-cli' }).admin();
  await admin.connect();
  try {
    const created = await ensureTopics(
      admin,
      projectTopicSpecs({ ...config, regionTopics: Object.values(policy.regions).map((r) => r.topic) }, partitions),
    );
    process.stdout.write(created.length === 0 ? 'all topics exist\n' : `created: ${created.join(', ')}\n`);
    return 0;
  } finally {
    await admin.disconnect();
  }
}
