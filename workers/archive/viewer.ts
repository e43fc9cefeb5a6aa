import type { ViewerData } from './contents.ts';

/**
 * The archive's `index.html`: an offline viewer that works from file:// after unzipping
 * (no network, no server). Everything is inline: the CSS, the script, and the data as a
 * JSON block (`<script type="application/json">`), since file:// pages cannot fetch JSON.
 * User text is only ever set with `textContent`, never parsed as HTML.
 */

/** JSON safe inside a `<script>` element: no `</script>`, `<!--`, or line separators that end it early. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const CSS = String.raw`
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0 auto; max-width: 70rem; padding: 1rem; line-height: 1.4; }
header p { color: GrayText; margin-top: 0; }
main { display: grid; grid-template-columns: minmax(14rem, 20rem) 1fr; gap: 1.5rem; }
@media (max-width: 45rem) { main { grid-template-columns: 1fr; } }
#broadcasts ul { list-style: none; padding: 0; margin: 0; }
#broadcasts li { display: grid; grid-template-columns: 5rem 1fr; gap: .1rem .6rem; margin-bottom: .8rem; align-items: start; }
#broadcasts img, #broadcasts .noposter { width: 5rem; aspect-ratio: 16 / 9; object-fit: cover; grid-row: span 2; background: #8884; border-radius: 4px; }
#broadcasts button { font: inherit; font-weight: 600; text-align: left; background: none; border: 0; padding: 0; color: LinkText; cursor: pointer; text-decoration: underline; }
#broadcasts button[aria-current="true"] { color: inherit; text-decoration: none; }
.meta { font-size: .85em; color: GrayText; }
.removed { font-style: italic; color: GrayText; }
video { width: 100%; max-height: 60vh; background: #000; border-radius: 6px; }
#hearts { font-size: 1.1em; margin: .4rem 0; }
#hearts.pulse { animation: pulse .4s ease-out; }
@keyframes pulse { from { transform: scale(1.3); } to { transform: scale(1); } }
ol[role="log"] { list-style: none; padding: .5rem; margin: 0; max-height: 40vh; overflow-y: auto; border: 1px solid #8886; border-radius: 6px; }
ol[role="log"] li { margin: .2rem 0; }
ol[role="log"] b { margin-right: .4rem; }
.empty { color: GrayText; font-style: italic; }
`;

// Plain browser JS (no template substitutions inside: no backticks, no dollar-brace).
const SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('archive-data').textContent);
  var list = document.getElementById('broadcast-list');
  var player = document.getElementById('player');
  var current = null; // { b, video, log, hearts, shown, loop }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function fmtDate(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString();
  }
  function fmtClock(ms) {
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return (h ? h + ':' + two(m % 60) : String(m)) + ':' + two(s % 60);
  }
  // How many items (sorted by atMs) have atMs <= t.
  function upTo(items, t) {
    var lo = 0, hi = items.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (items[mid].atMs <= t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function chatItem(m, showOffset) {
    var li = el('li');
    if (showOffset) li.appendChild(el('span', { 'class': 'meta' }, fmtClock(m.offsetMs) + ' '));
    li.appendChild(el('b', null, m.username));
    li.appendChild(document.createTextNode(m.text));
    if (m.removed) li.appendChild(el('span', { 'class': 'removed' }, removedText(m.removed)));
    return li;
  }
  function removedText(by) {
    return ' (removed by ' + (by === 'admin' ? 'an admin' : 'the broadcaster') + ')';
  }

  function sync() {
    var c = current;
    if (!c || !c.video) return;
    var t = c.video.currentTime * 1000;
    var n = upTo(c.b.chat, t);
    if (n !== c.shown) {
      if (n < c.shown) {
        while (c.log.children.length > n) c.log.removeChild(c.log.lastChild);
      } else {
        for (var i = c.shown; i < n; i++) c.log.appendChild(chatItem(c.b.chat[i], false));
        c.log.scrollTop = c.log.scrollHeight;
      }
      c.shown = n;
    }
    var h = upTo(c.b.hearts, t), total = 0;
    for (var j = 0; j < h; j++) total += c.b.hearts[j].count;
    if (total !== c.heartTotal) {
      if (total > c.heartTotal) { c.hearts.classList.remove('pulse'); void c.hearts.offsetWidth; c.hearts.classList.add('pulse'); }
      c.heartTotal = total;
      c.hearts.textContent = '\u2665 ' + total;
    }
  }
  function tick() {
    if (!current || !current.video) return;
    sync();
    if (!current.video.paused && !current.video.ended) current.loop = requestAnimationFrame(tick);
    else current.loop = 0;
  }

  function show(b, button) {
    if (current && current.loop) cancelAnimationFrame(current.loop);
    if (current && current.video) current.video.pause();
    Array.prototype.forEach.call(list.querySelectorAll('button'), function (x) { x.setAttribute('aria-current', String(x === button)); });
    player.textContent = '';
    player.appendChild(el('h2', null, b.title));
    player.appendChild(el('p', { 'class': 'meta' }, fmtDate(b.startedAt) + (b.endedAt ? ' \u2013 ' + fmtDate(b.endedAt) : '') + ' \u00b7 ' + b.visibility));
    var c = { b: b, video: null, log: null, hearts: null, shown: 0, heartTotal: -1, loop: 0 };
    if (b.video) {
      var v = el('video', { 'aria-label': 'Replay video', controls: '', preload: 'metadata', playsinline: '' });
      if (b.poster) v.setAttribute('poster', b.poster);
      v.src = b.video;
      player.appendChild(v);
      c.video = v;
      c.hearts = el('p', { id: 'hearts', 'aria-label': 'Hearts so far' }, '\u2665 0');
      player.appendChild(c.hearts);
      ['timeupdate', 'seeking', 'seeked', 'loadedmetadata', 'pause', 'ended'].forEach(function (ev) { v.addEventListener(ev, sync); });
      v.addEventListener('play', function () { if (!c.loop) c.loop = requestAnimationFrame(tick); });
    } else {
      player.appendChild(el('p', { 'class': 'empty' }, 'No replay video for this broadcast. Its chat:'));
    }
    player.appendChild(el('h3', { id: 'chat-heading' }, 'Chat'));
    var log = el('ol', { role: 'log', 'aria-label': 'Chat' });
    player.appendChild(log);
    c.log = log;
    current = c;
    if (b.video) sync();
    else if (b.chat.length === 0) log.appendChild(el('li', { 'class': 'empty' }, 'No messages.'));
    else b.chat.forEach(function (m) { log.appendChild(chatItem(m, true)); });
  }

  if (data.broadcasts.length === 0) list.appendChild(el('li', { 'class': 'empty' }, 'No broadcasts.'));
  data.broadcasts.forEach(function (b) {
    var li = el('li');
    if (b.poster) li.appendChild(el('img', { src: b.poster, alt: '' }));
    else li.appendChild(el('span', { 'class': 'noposter' }));
    var button = el('button', { type: 'button', 'aria-current': 'false' }, b.title || '(untitled)');
    button.addEventListener('click', function () { show(b, button); });
    li.appendChild(button);
    li.appendChild(el('span', { 'class': 'meta' }, fmtDate(b.startedAt) + (b.durationMs != null ? ' \u00b7 ' + fmtClock(b.durationMs) : '') + (b.video ? '' : ' \u00b7 no replay')));
    list.appendChild(li);
  });

  var elsewhere = document.getElementById('elsewhere-list');
  if (data.chatElsewhere.length === 0) elsewhere.appendChild(el('li', { 'class': 'empty' }, 'None.'));
  data.chatElsewhere.forEach(function (m) {
    var li = el('li');
    li.appendChild(el('span', { 'class': 'meta' }, fmtDate(m.sentAt) + ' \u00b7 '));
    li.appendChild(el('b', null, m.broadcastTitle + ': '));
    li.appendChild(document.createTextNode(m.text));
    if (m.removed) li.appendChild(el('span', { 'class': 'removed' }, removedText(m.removed)));
    elsewhere.appendChild(li);
  });
})();
`;

export function renderViewer(data: ViewerData): string {
  const title = `Spyglass archive of ${escapeHtml(data.username)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src file: 'self'; media-src file: 'self'">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<p>Exported ${escapeHtml(data.exportedAt)}. This page works offline: open it from the unzipped folder.</p>
</header>
<main>
<nav id="broadcasts" aria-labelledby="broadcasts-heading">
<h2 id="broadcasts-heading">Broadcasts</h2>
<ul id="broadcast-list"></ul>
</nav>
<section id="player" aria-live="off"><p class="empty">Choose a broadcast.</p></section>
</main>
<section aria-labelledby="elsewhere-heading">
<h2 id="elsewhere-heading">Your chat in other broadcasts</h2>
<ul id="elsewhere-list"></ul>
</section>
<script type="application/json" id="archive-data">${jsonForScript(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
