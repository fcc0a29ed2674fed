// The HTTP API under /api. Every route but health needs the function key (and, with CLIENT_CERT_AUTH=required,
// an accepted client certificate); health is anonymous so a load balancer or uptime check can call it.
import { app } from '@azure/functions';
import { lazyHandler } from './app/lazy.js';

// POST starts rotations (or a dry run), GET lists the history: one route, one function.
app.http('rotations', { route: 'rotations', methods: ['GET', 'POST'], authLevel: 'function', handler: lazyHandler('rotationsHandler') });
app.http('rotation', { route: 'rotations/{id}', methods: ['GET'], authLevel: 'function', handler: lazyHandler('rotationHandler') });
app.http('rollbackRotation', { route: 'rotations/{id}/rollback', methods: ['POST'], authLevel: 'function', handler: lazyHandler('rollbackHandler') });
app.http('certificates', { route: 'certificates', methods: ['GET'], authLevel: 'function', handler: lazyHandler('certificatesHandler') });
app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: lazyHandler('healthHandler') });
