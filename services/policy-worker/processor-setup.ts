/**
 * Everything a record processor is built from, as plain data: the entry point builds one in
 * its own thread from it, and so does every processing thread (processor-thread.ts). The
 * policy travels as the bytes read once at start-up, so every thread decides with the same
 * policy version even if the file changes on disk meanwhile; all verify against the same
 * issuer and derive the same per-tenant pseudonym keys.
 */
import { createCodec } from '../shared/avro/index.js';
import { parsePolicyBytes } from '../policy/load-policy.js';
import { createIssuerTokenVerifier } from '../policy/token-verifier.js';
import { createRecordProcessor, type RecordProcessor, type TopicNames } from './record-processor.js';
import { createTenantScrubbers } from './tenant-scrubbers.js';

export interface ProcessorSetup {
  /** The policy file's bytes (readPolicyBytes) and its path, for messages. */
  policyBytes: Uint8Array;
  policySource: string;
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  clockSkewSec: number;
  /** Required `typ` of access tokens, e.g. 'at+jwt'. */
  requiredTyp?: string;
  /** Master key of the keyed pseudonyms. */
  pseudonymKey: Uint8Array;
  topics: TopicNames;
  maxRecordBytes: number;
}

export interface BuiltProcessor {
  processor: RecordProcessor;
  policyVersion: string;
  close(): void;
}

export async function buildRecordProcessor(setup: ProcessorSetup, onUnexpected?: (err: unknown) => void): Promise<BuiltProcessor> {
  const policy = parsePolicyBytes(Buffer.from(setup.policyBytes), setup.policySource);
  const verifier = await createIssuerTokenVerifier({
    issuer: setup.issuer,
    audience: setup.audience,
    algorithms: setup.algorithms,
    clockSkewSec: setup.clockSkewSec,
    ...(setup.requiredTyp === undefined ? {} : { requiredTyp: setup.requiredTyp }),
  });
  const scrubbers = createTenantScrubbers(policy, setup.pseudonymKey);
  const processor = createRecordProcessor({
    policy,
    verifier,
    traceCodec: createCodec('reasoning-trace', { maxBytes: setup.maxRecordBytes }),
    heldCodec: createCodec('held-trace', { maxBytes: 4 * setup.maxRecordBytes }),
    deadLetterCodec: createCodec('dead-letter'),
    auditCodec: createCodec('audit-event'),
    scrubberFor: scrubbers.scrubberFor,
    maskingOpsFor: scrubbers.maskingOpsFor,
    topics: setup.topics,
    maxRecordBytes: setup.maxRecordBytes,
    ...(onUnexpected === undefined ? {} : { onUnexpected }),
  });
  return { processor, policyVersion: policy.version, close: () => verifier.close() };
}

/** The factory a processing thread (processor-pool.ts) calls with the setup it was given. */
export async function createProcessor(config: unknown, onUnexpected: (err: unknown) => void): Promise<BuiltProcessor> {
  return buildRecordProcessor(config as ProcessorSetup, onUnexpected);
}
