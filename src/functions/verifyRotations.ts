// Every few minutes: resume rotations left mid-way, re-verify those inside their window (rolling back on a
// persistent failure), retire certificates that are due.
import { app } from '@azure/functions';
import { lazyHandler } from './app/lazy.js';

app.timer('verifyRotations', {
  schedule: '%VERIFY_SCHEDULE%',
  runOnStartup: false,
  handler: lazyHandler('verifyRotations'),
});
