// Canary rollouts: list, read, and the operator's promote or abort of a halted or running rollout.
import { app } from '@azure/functions';
import { lazyHandler } from './app/lazy.js';

app.http('rollouts', { route: 'rollouts', methods: ['GET'], authLevel: 'function', handler: lazyHandler('rolloutsHandler') });
app.http('rollout', { route: 'rollouts/{id}', methods: ['GET'], authLevel: 'function', handler: lazyHandler('rolloutHandler') });
app.http('promoteRollout', { route: 'rollouts/{id}/promote', methods: ['POST'], authLevel: 'function', handler: lazyHandler('promoteRolloutHandler') });
app.http('abortRollout', { route: 'rollouts/{id}/abort', methods: ['POST'], authLevel: 'function', handler: lazyHandler('abortRolloutHandler') });
