// Every registration module of the function app: the bundle's entry (scripts/bundle.mjs → dist/bundle/index.js,
// package.json `main`, what the Functions host loads). The local host also loads the top-level modules one by one;
// ES modules are evaluated once, so importing them here registers nothing twice.
// Helpers live in subfolders (app/, auth/, http/), which that glob does not match.
import './nightlyScan.js';
import './rotateApp.js';
import './verifyRotations.js';
import './api.js';
import './dashboard.js';
import './rollouts.js';
import './certificateEvents.js';
