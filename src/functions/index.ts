// Every registration module of the function app. The Functions host loads dist/src/functions/*.js (package.json
// `main`), this file included; ES modules are evaluated once, so importing them here registers nothing twice.
// Helpers live in subfolders (app/, auth/, http/), which that glob does not match.
import './nightlyScan.js';
import './rotateApp.js';
import './verifyRotations.js';
import './api.js';
