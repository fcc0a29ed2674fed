// Nightly: scan every opted-in app, record the summary, queue one message per app that needs a rotation.
import { app } from '@azure/functions';
import { lazyHandler } from './app/lazy.js';

app.timer('nightlyScan', {
  schedule: '%ROTATION_SCHEDULE%',
  // A missed night is not replayed at start-up: the next scan finds whatever is still due.
  runOnStartup: false,
  handler: lazyHandler('nightlyScan'),
});
