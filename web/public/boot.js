// The first thing a page load runs (index.html loads it before the app's JavaScript,
// which takes a while to download and parse): when a session cookie is there, it starts
// the reads the app will make first, so that they travel while the app starts. These are
// GET /api/users/me and the reads this address made in its first seconds last time
// (recorded by src/api/boot.ts, which also hands the answers to the app, once each).
// Nothing here is trusted: an answer the app never asks for is dropped. It starts nothing
// when the session's access cookie has (nearly) run out.
(function () {
  'use strict';
  if (!/(?:^|;\s*)fitsync_csrf=/.test(document.cookie)) return;
  var reads = [];
  try {
    // An access cookie that has run out (or nearly): the app refreshes the session
    // first, and reads started now would only be refused.
    if (!(Number(localStorage.getItem('fitsync-session-expires')) - Date.now() > 60000)) return;
    // `/` opens the home screen of whoever signed in here last.
    var path = location.pathname === '/' ? localStorage.getItem('fitsync-boot-home') || '/' : location.pathname;
    reads = JSON.parse(localStorage.getItem('fitsync-boot-reads:' + path) || '[]');
  } catch (e) {
    return;
  }
  var started = {};
  function get(url) {
    var answer = fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    answer.catch(function () {}); // the app fetches again if this fails
    started[url] = answer;
  }
  get('/api/users/me');
  for (var i = 0; i < reads.length && i < 12; i++) {
    if (typeof reads[i] === 'string' && reads[i].indexOf('/api/') === 0) get(reads[i]);
  }
  window.__fitsyncBoot = { at: Date.now(), started: started };
})();
