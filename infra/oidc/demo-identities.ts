/** Demo agents and reviewers of the development issuer. Secrets here are for the local stack only. */
export const DEV_BROKER_AUDIENCE = 'urn:tracefence:broker';

export interface DemoAgent {
  clientId: string;
  clientSecret: string;
  tenant: string;
  agent: string;
  groups: string[];
}

export const DEMO_AGENTS: readonly DemoAgent[] = [
  { clientId: 'agent-acme-support', clientSecret: 'dev-secret-acme-support', tenant: 'acme', agent: 'support-bot', groups: ['eu-only'] },
  { clientId: 'agent-globex-research', clientSecret: 'dev-secret-globex-research', tenant: 'globex', agent: 'research-bot', groups: [] },
  { clientId: 'agent-initech-ops', clientSecret: 'dev-secret-initech-ops', tenant: 'initech', agent: 'ops-bot', groups: [] },
];

export interface DemoReviewer {
  username: string;
  name: string;
  /** Group claims scope a reviewer to region and tenant: reviewers:<region>:<tenant>. */
  groups: string[];
}

export const DEMO_REVIEWERS: readonly DemoReviewer[] = [
  { username: 'alice', name: 'Alice Reviewer', groups: ['reviewers:eu:acme', 'reviewers:eu:initech'] },
  { username: 'bob', name: 'Bob Reviewer', groups: ['reviewers:eu:acme'] },
  { username: 'carol', name: 'Carol Reviewer', groups: ['reviewers:us:globex', 'reviewers:us:initech'] },
];
