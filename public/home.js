// warmkv landing page: the console, the live stats and the access token.
//
// Plain JavaScript with no build step and no libraries. Rules this file keeps:
//  - Every URL is relative ("put", "stats"), because under AWS API Gateway the
//    page lives below a stage prefix such as /prod/.
//  - Data from the server or the user is only ever written with textContent,
//    never innerHTML, so a stored "<img src=x onerror=...>" shows literally.
//  - No inline styles or handlers: the CSP forbids them. Dynamic sizes go
//    through the CSSOM (element.style.width), which the CSP allows.
(function () {
  'use strict';

  // ---- Inputs and actions -------------------------------------------------

  // Input fields the actions read. check(text) says whether the text is
  // usable: {ok, counter (the text next to the label), invalid (why it is
  // wrong, '' when it is merely empty)}. Lengths are in Unicode code points,
  // the unit the server counts in, so 256 emoji are a valid value.
  const FIELDS = {
    key: { input: 'key-input', counter: 'key-counter', check: lengthCheck('key', 1, 256) },
    value: { input: 'value-input', counter: 'value-counter', check: lengthCheck('value', 0, 256) },
    ttl: { input: 'ttl-input', counter: 'ttl-counter', check: ttlCheck },
  };

  // withTTL adds the TTL field, when one is given, to a request body. The
  // server takes "ttl" as a JSON number of seconds from now.
  function withTTL(body, v) {
    if (v.ttl.trim() !== '') body.ttl = Number(v.ttl.trim());
    return body;
  }

  // The console's actions. A new route is one more entry here: its button,
  // validation, keyboard shortcut, curl command and result rendering all come
  // from this table. The writes are POSTs with a JSON body (never GETs, which
  // browsers and proxies may prefetch or repeat), the read a GET.
  //   fields:    which FIELDS must be valid before the action may run
  //   shortcut:  key press inside a field that runs the action
  //   request:   turns the field values into {method, path, body}
  //   valueNote: how the summary describes a returned value
  const ACTIONS = [
    {
      name: 'put',
      label: 'Put',
      primary: true,
      fields: ['key', 'value', 'ttl'],
      shortcut: { field: 'value', key: 'Enter', ctrlOrMeta: true },
      request: (v) => ({ method: 'POST', path: 'put', body: withTTL({ key: v.key, value: v.value }, v) }),
    },
    {
      name: 'get',
      label: 'Get',
      fields: ['key'],
      shortcut: { field: 'key', key: 'Enter', ctrlOrMeta: false },
      request: (v) => ({ method: 'GET', path: 'get?key=' + encodeURIComponent(v.key) }),
    },
    {
      name: 'delete',
      label: 'Delete',
      fields: ['key'],
      request: (v) => ({ method: 'POST', path: 'delete', body: { key: v.key } }),
    },
    {
      name: 'increment',
      label: 'Increment',
      fields: ['key', 'ttl'],
      request: (v) => ({ method: 'POST', path: 'increment', body: withTTL({ key: v.key }, v) }),
      valueNote: (value) => 'value is now ' + value,
    },
    {
      name: 'decrement',
      label: 'Decrement',
      fields: ['key', 'ttl'],
      request: (v) => ({ method: 'POST', path: 'decrement', body: withTTL({ key: v.key }, v) }),
      valueNote: (value) => 'value is now ' + value,
    },
  ];

  const REQUEST_TIMEOUT_MS = 10000;
  const STATS_TIMEOUT_MS = 5000;
  const STATS_INTERVAL_MS = 1000;
  const STATS_RETRY_MS = 3000;
  const CHART_WINDOW_MS = 60000;
  const TOKEN_STORAGE_KEY = 'warmkv.token';

  // HTTP/2 responses carry no reason phrase, so name the codes the API uses.
  const REASONS = {
    200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 429: 'Too Many Requests',
    500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  };

  const DEPLOYMENTS = { standalone: 'Standalone server', lambda: 'AWS Lambda', vercel: 'Vercel' };

  const $ = (id) => document.getElementById(id);

  // The API's absolute base for the curl commands: the page's own directory,
  // so it carries a stage prefix (https://…/prod/) when there is one.
  const apiBase = new URL('.', location.href).href;

  // ---- Small helpers ------------------------------------------------------

  // codePoints counts what the server counts. Spreading a string walks code
  // points, so an emoji is 1, where s.length would say 2 (UTF-16 units).
  function codePoints(s) {
    return [...s].length;
  }

  function truncate(s, max) {
    const cps = [...s];
    return cps.length > max ? cps.slice(0, max - 1).join('') + '…' : s;
  }

  function shellQuote(s) {
    return "'" + s.replace(/'/g, "'\\''") + "'";
  }

  const numberFormat = new Intl.NumberFormat();
  const fmtInt = (n) => (Number.isFinite(n) ? numberFormat.format(n) : '–');

  function fmtBytes(n) {
    if (!Number.isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtRate(r) {
    if (r === null || !Number.isFinite(r)) return '–';
    return r < 10 ? r.toFixed(1) : fmtInt(Math.round(r));
  }

  function fmtDuration(sec) {
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600);
    const m = Math.floor((sec % 3600) / 60), s = sec % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }

  function plural(n, one, many) {
    return fmtInt(n) + ' ' + (n === 1 ? one : many || one + 's');
  }

  function setText(id, text) {
    const el = $(id);
    if (el) el.textContent = text;
  }

  const announcer = $('announcer');
  function announce(text) {
    // Clearing first makes screen readers repeat an identical message.
    announcer.textContent = '';
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  // ---- Access token -------------------------------------------------------

  // sessionStorage keeps the token for this tab only and out of the URL. If
  // storage is blocked, fall back to memory for the page's lifetime.
  let memoryToken = '';
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_STORAGE_KEY) || ''; } catch { return memoryToken; }
  }
  function setToken(t) {
    memoryToken = t;
    try {
      if (t) sessionStorage.setItem(TOKEN_STORAGE_KEY, t); else sessionStorage.removeItem(TOKEN_STORAGE_KEY);
    } catch { /* memoryToken already holds it */ }
  }

  const tokenPanel = $('token-panel');
  const tokenInput = $('token-input');
  const tokenStatus = $('token-status');

  function showTokenPanel(opts) {
    const firstTime = tokenPanel.hidden;
    tokenPanel.hidden = false;
    if (opts.rejected) {
      tokenStatus.textContent = getToken()
        ? 'The server rejected the saved token. Enter a new one.'
        : 'The server needs an access token.';
    }
    // Move focus only for a user's own action, never from background polling.
    if (opts.focus && firstTime) tokenInput.focus();
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = tokenInput.value.trim();
    if (!t) {
      tokenStatus.textContent = 'Enter a token first.';
      tokenInput.focus();
      return;
    }
    setToken(t);
    tokenInput.value = '';
    tokenStatus.textContent = 'Token saved for this tab.';
    stats.authBlocked = false;
    scheduleStats(0);
  });

  $('token-clear').addEventListener('click', () => {
    setToken('');
    tokenInput.value = '';
    tokenStatus.textContent = 'Token cleared.';
  });

  // ---- HTTP ---------------------------------------------------------------

  // call sends one API request and never throws: network failures and
  // timeouts come back as status 0 with an error message.
  async function call(method, path, body, timeoutMs) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = getToken();
    if (token) headers.Authorization = 'Bearer ' + token;

    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    const t0 = performance.now();
    try {
      const resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'same-origin',
        signal: ctrl.signal,
      });
      const text = await resp.text();
      const ms = performance.now() - t0;
      let json = null;
      try { json = JSON.parse(text); } catch { /* shown as raw text */ }
      return { status: resp.status, ok: resp.ok, json, text, ms, error: '' };
    } catch (err) {
      const ms = performance.now() - t0;
      const error = err && err.name === 'AbortError'
        ? 'timed out after ' + timeoutMs / 1000 + ' s'
        : 'network error' + (err && err.message ? ' (' + err.message + ')' : '');
      return { status: 0, ok: false, json: null, text: '', ms, error };
    } finally {
      clearTimeout(timer);
    }
  }

  // curlFor renders a request as a copy-pasteable command. The token itself is
  // never printed on the page: the command reads it from $WARMKV_TOKEN.
  function curlFor(req) {
    const lines = ['curl -sS' + (req.method !== 'GET' ? ' -X ' + req.method : '') + ' ' + shellQuote(apiBase + req.path)];
    if (getToken()) lines.push('-H "Authorization: Bearer $WARMKV_TOKEN"');
    if (req.body !== undefined) {
      lines.push("-H 'Content-Type: application/json'");
      lines.push('-d ' + shellQuote(JSON.stringify(req.body)));
    }
    return lines.join(' \\\n  ');
  }

  // ---- Console ------------------------------------------------------------

  const fieldState = {};

  // lengthCheck validates a text field of min..max code points.
  function lengthCheck(label, min, max) {
    return (text) => {
      const n = codePoints(text);
      const over = n > max;
      return {
        ok: n >= min && !over,
        counter: n + ' / ' + max + ' characters' + (over ? ' (' + (n - max) + ' over)' : ''),
        invalid: over ? 'The ' + label + ' is over the ' + max + ' character limit.' : '',
        missing: n < min ? 'Enter a ' + label + ' first.' : '',
      };
    };
  }

  // ttlCheck validates the optional TTL: empty, or a whole number of seconds
  // from 1 up. The server has the last word on very large ones.
  function ttlCheck(text) {
    const t = text.trim();
    if (t === '') return { ok: true, counter: 'no expiry', invalid: '', missing: '' };
    const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      return { ok: false, counter: 'whole seconds, 1 or more', invalid: 'The TTL must be a whole number of seconds, 1 or more.', missing: '' };
    }
    return { ok: true, counter: 'expires after ' + fmtDuration(n), invalid: '', missing: '' };
  }

  function refreshField(name) {
    const f = FIELDS[name];
    const prev = fieldState[name];
    const input = $(f.input);
    const st = f.check(input.value);
    st.text = input.value;
    fieldState[name] = st;
    $(f.counter).textContent = st.counter;
    input.closest('.field').classList.toggle('is-invalid', Boolean(st.invalid));
    input.setAttribute('aria-invalid', st.invalid ? 'true' : 'false');
    // Announce becoming invalid once, not every keystroke.
    if (st.invalid && !(prev && prev.invalid)) announce(st.invalid);
  }

  function refreshButtons() {
    for (const action of ACTIONS) {
      action.button.disabled = !action.fields.every((name) => fieldState[name].ok);
    }
  }

  function actionBlocker(action) {
    for (const name of action.fields) {
      const st = fieldState[name];
      if (!st.ok) return st.invalid || st.missing;
    }
    return '';
  }

  let latestRun = 0;

  async function runAction(action) {
    const blocker = actionBlocker(action);
    if (blocker) {
      announce(blocker);
      return;
    }
    const values = {};
    for (const name of Object.keys(FIELDS)) values[name] = fieldState[name].text;
    const req = action.request(values);
    const curl = curlFor(req);
    const run = ++latestRun;

    action.button.classList.add('is-busy');
    action.button.setAttribute('aria-busy', 'true');
    const res = await call(req.method, req.path, req.body, REQUEST_TIMEOUT_MS);
    action.button.classList.remove('is-busy');
    action.button.removeAttribute('aria-busy');

    // A slower, older request must not overwrite a newer result.
    if (run === latestRun) renderResult(action, values, curl, res);
    if (res.status === 401) showTokenPanel({ rejected: true, focus: true });
    if (res.ok) scheduleStats(0); // show the new entry count right away
  }

  function renderResult(action, values, curl, res) {
    $('result-body').hidden = false;
    $('result-curl').textContent = curl;

    const badge = $('result-status');
    badge.className = 'status-badge s' + String(res.status).charAt(0);
    badge.textContent = res.status ? res.status + ' ' + (REASONS[res.status] || '') : 'no response';
    $('result-latency').textContent = res.ms.toFixed(1) + ' ms';

    let body;
    if (res.error) body = res.error;
    else if (res.json !== null) body = JSON.stringify(res.json, null, 2);
    else body = truncate(res.text, 4000) || '(empty body)';
    $('result-json').textContent = body;

    const hasValue = res.ok && res.json && typeof res.json.value === 'string';
    $('result-value-block').hidden = !hasValue;
    if (hasValue) {
      $('result-value').textContent = res.json.value;
      const n = codePoints(res.json.value);
      $('result-value-length').textContent = n === 0 ? 'empty string' : n + (n === 1 ? ' character' : ' characters');
    }

    let summary = action.label + ' “' + truncate(values.key, 40) + '” → ';
    if (res.error) summary += 'failed: ' + res.error;
    else {
      summary += res.status + ' ' + (REASONS[res.status] || '') + ' in ' + res.ms.toFixed(1) + ' ms';
      if (hasValue) {
        summary += ': ' + (action.valueNote
          ? action.valueNote(truncate(res.json.value, 40))
          : 'value has ' + codePoints(res.json.value) + ' characters');
      }
      else if (res.json && typeof res.json.message === 'string') summary += ': ' + truncate(res.json.message, 120);
    }
    const summaryEl = $('result-summary');
    summaryEl.textContent = summary;
    summaryEl.classList.toggle('is-ok', res.ok);
    summaryEl.classList.toggle('is-error', !res.ok);
  }

  function setupConsole() {
    const bar = $('action-buttons');
    for (const action of ACTIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn' + (action.primary ? ' btn-primary' : '');
      b.textContent = action.label;
      b.dataset.action = action.name;
      b.addEventListener('click', () => runAction(action));
      bar.appendChild(b);
      action.button = b;
    }

    for (const name of Object.keys(FIELDS)) {
      const input = $(FIELDS[name].input);
      input.addEventListener('input', () => { refreshField(name); refreshButtons(); });
      input.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' || e.isComposing) return; // Enter that commits an IME composition is not ours
        const mod = e.ctrlKey || e.metaKey;
        const action = ACTIONS.find((a) => a.shortcut && a.shortcut.field === name &&
          a.shortcut.key === e.key && a.shortcut.ctrlOrMeta === mod);
        if (action) {
          e.preventDefault();
          runAction(action);
        }
      });
      refreshField(name);
    }
    refreshButtons();
  }

  // ---- Copy buttons -------------------------------------------------------

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch { /* fall through */ }
    }
    // Fallback for plain-http origins and older browsers.
    const helper = document.createElement('textarea');
    helper.value = text;
    helper.setAttribute('readonly', '');
    helper.className = 'clipboard-helper';
    const active = document.activeElement;
    document.body.appendChild(helper);
    helper.select();
    let ok;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    helper.remove();
    if (active && active.focus) active.focus();
    return ok;
  }

  function copySource(button) {
    if (button.dataset.copyTarget) return $(button.dataset.copyTarget);
    const block = button.closest('.block');
    return block && block.querySelector('pre');
  }

  document.addEventListener('click', async (e) => {
    const button = e.target.closest('button.copy');
    if (!button) return;
    const source = copySource(button);
    if (!source) return;
    const ok = await copyText(source.textContent);
    if (ok) {
      button.textContent = 'Copied';
      button.classList.add('copied');
      announce('Copied to the clipboard');
      setTimeout(() => { button.textContent = 'Copy'; button.classList.remove('copied'); }, 1500);
    } else {
      // Last resort: select the text so Ctrl+C / Cmd+C copies it.
      window.getSelection().selectAllChildren(source);
      announce('Copying is blocked here; the text is selected, press Ctrl+C to copy');
    }
  });

  // ---- Live stats ---------------------------------------------------------

  const stats = {
    timer: 0,
    inflight: false,
    authBlocked: false,
    prev: null, // {t, requests, uptime} of the last good sample
    samples: [], // {t, rate}; rate null marks a gap in the line
  };

  function scheduleStats(delay) {
    clearTimeout(stats.timer);
    // An in-flight poll schedules the next one itself when it finishes.
    if (stats.inflight || stats.authBlocked || document.visibilityState !== 'visible') return;
    stats.timer = setTimeout(pollStats, delay);
  }

  async function pollStats() {
    stats.inflight = true;
    const started = performance.now();
    const res = await call('GET', 'stats', undefined, STATS_TIMEOUT_MS);
    stats.inflight = false;
    const stateEl = $('stats-state');

    if (res.ok && res.json && res.json.status === 'OK') {
      renderStats(res.json, performance.now());
      stateEl.textContent = 'Live';
      stateEl.classList.remove('is-error');
      scheduleStats(Math.max(0, STATS_INTERVAL_MS - (performance.now() - started)));
      return;
    }

    stats.prev = null;
    pushSample(performance.now(), null);
    stateEl.classList.add('is-error');
    if (res.status === 401) {
      stats.authBlocked = true; // resumes when a token is saved
      showTokenPanel({ rejected: true, focus: false });
      stateEl.textContent = 'Paused: needs an access token';
      setServing('auth', 'Access token required');
      return;
    }
    stateEl.textContent = res.status ? 'Error ' + res.status + ', retrying' : 'Unreachable, retrying';
    setServing('error', res.status ? 'Error ' + res.status : 'Unreachable');
    scheduleStats(STATS_RETRY_MS);
  }

  function setServing(state, text) {
    $('serving').dataset.state = state;
    setText('serving-text', text);
  }

  function renderStats(s, now) {
    const deployment = DEPLOYMENTS[s.deployment] || String(s.deployment || 'unknown');
    const version = String(s.version || '');
    setServing('ok', deployment + (version ? ' · ' + version : ''));
    setText('footer-version', version);
    if (s.deployment === 'lambda' || s.deployment === 'vercel') {
      setText('stats-note', 'Refreshed every second while this tab is visible. On ' + deployment +
        ' each instance keeps its own cache and counters; these are from whichever instance answered. ' +
        'Requests/s includes this page\u2019s own polling.');
    }

    setText('m-entries', fmtInt(s.keyCount));
    setText('m-entries-sub', s.maxSize ? 'of ' + fmtInt(s.maxSize) + ' max' : '');

    const lookups = s.hits + s.misses;
    setText('m-hit', lookups ? (100 * s.hits / lookups).toFixed(1) + '%' : '–');
    setText('m-hit-sub', lookups ? plural(s.hits, 'hit') + ' · ' + plural(s.misses, 'miss', 'misses') : 'no lookups yet');

    // The rate comes from the requests counter's delta. A counter that went
    // down means a restart or, on serverless, another instance: start over.
    let rate = null;
    const p = stats.prev;
    if (p && s.requests >= p.requests && s.uptimeSeconds >= p.uptime && now > p.t) {
      rate = (s.requests - p.requests) / ((now - p.t) / 1000);
    }
    stats.prev = { t: now, requests: s.requests, uptime: s.uptimeSeconds };
    setText('m-rps', fmtRate(rate));
    setText('m-rps-sub', fmtInt(s.requests) + ' total');
    pushSample(now, rate);

    const budget = s.memoryBudget;
    const pct = budget > 0 ? Math.min(100, 100 * s.memoryUsed / budget) : 0;
    setText('m-mem', fmtBytes(s.memoryUsed));
    setText('m-mem-sub', budget > 0 ? 'of ' + fmtBytes(budget) + ' budget (' + pct.toFixed(1) + '%)' : 'no budget set');
    const fill = $('m-mem-fill');
    fill.style.width = pct.toFixed(2) + '%';
    fill.classList.toggle('is-high', pct >= 80 && pct < 95);
    fill.classList.toggle('is-full', pct >= 95);
    const bar = $('m-mem-bar');
    bar.setAttribute('aria-valuenow', pct.toFixed(1));
    bar.setAttribute('aria-valuetext', fmtBytes(s.memoryUsed) + ' of ' + fmtBytes(budget) + ', ' + pct.toFixed(1) + '%');

    setText('c-inserts', fmtInt(s.inserts));
    setText('c-updates', fmtInt(s.updates));
    setText('c-deletes', fmtInt(s.deletes));
    setText('c-evictions', fmtInt(s.evictions));
    setText('c-expirations', fmtInt(s.expirations));
    setText('c-requests', fmtInt(s.requests));
    setText('c-uptime', fmtDuration(s.uptimeSeconds));

    drawChart(now);
  }

  function pushSample(t, rate) {
    stats.samples.push({ t, rate });
    while (stats.samples.length && stats.samples[0].t < t - CHART_WINDOW_MS - STATS_INTERVAL_MS) stats.samples.shift();
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      scheduleStats(0);
    } else {
      clearTimeout(stats.timer);
      // The first rate after coming back would average over the whole hidden
      // time; drop the baseline so the chart shows a gap instead.
      stats.prev = null;
      setText('stats-state', 'Paused while the tab is hidden');
    }
  });

  // ---- Chart --------------------------------------------------------------

  const canvas = $('rps-chart');

  function niceCeil(v) {
    if (v <= 1) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // drawChart paints requests/s over the last 60 s with the page's own
  // colours (read from the CSS custom properties, so dark mode follows).
  function drawChart(now) {
    if (!canvas.getContext) return;
    now = now || performance.now();
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    const pad = { left: 40, right: 10, top: 12, bottom: 20 };
    const pw = w - pad.left - pad.right, ph = h - pad.top - pad.bottom;

    const start = now - CHART_WINDOW_MS;
    const visible = stats.samples.filter((s) => s.t >= start);
    const rates = visible.filter((s) => s.rate !== null).map((s) => s.rate);
    const peak = rates.length ? Math.max(...rates) : 0;
    const top = niceCeil(peak);
    const x = (t) => pad.left + ((t - start) / CHART_WINDOW_MS) * pw;
    const y = (v) => pad.top + ph - (v / top) * ph;

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = color('--chart-grid');
    ctx.fillStyle = color('--muted');
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const frac of [0, 0.5, 1]) {
      const gy = Math.round(y(top * frac)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, gy);
      ctx.lineTo(w - pad.right, gy);
      ctx.stroke();
      ctx.fillText(fmtRate(top * frac).replace(/\.0$/, ''), pad.left - 6, gy);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText('−60 s', pad.left, h - 5);
    ctx.textAlign = 'center';
    ctx.fillText('−30 s', pad.left + pw / 2, h - 5);
    ctx.textAlign = 'right';
    ctx.fillText('now', w - pad.right, h - 5);

    // Split into runs of consecutive good samples: nulls and long pauses
    // (tab hidden, errors) leave a gap rather than a misleading line.
    const runs = [];
    let run = [];
    for (const s of visible) {
      const prev = run[run.length - 1];
      if (s.rate === null || (prev && s.t - prev.t > 2.5 * STATS_INTERVAL_MS)) {
        if (run.length) runs.push(run);
        run = s.rate === null ? [] : [s];
      } else {
        run.push(s);
      }
    }
    if (run.length) runs.push(run);

    ctx.lineJoin = 'round';
    for (const r of runs) {
      ctx.beginPath();
      r.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(s.rate)) : ctx.moveTo(x(s.t), y(s.rate))));
      ctx.lineTo(x(r[r.length - 1].t), y(0));
      ctx.lineTo(x(r[0].t), y(0));
      ctx.closePath();
      ctx.fillStyle = color('--chart-fill');
      ctx.fill();

      ctx.beginPath();
      r.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(s.rate)) : ctx.moveTo(x(s.t), y(s.rate))));
      ctx.strokeStyle = color('--chart-line');
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.lineWidth = 1;
      if (r.length === 1) { // a lone point has no line: draw a dot
        ctx.beginPath();
        ctx.arc(x(r[0].t), y(r[0].rate), 2.5, 0, 2 * Math.PI);
        ctx.fillStyle = color('--chart-line');
        ctx.fill();
      }
    }

    const last = rates.length ? rates[rates.length - 1] : null;
    setText('chart-peak', rates.length ? 'peak ' + fmtRate(peak) + '/s' : '');
    canvas.setAttribute('aria-label', rates.length
      ? 'Requests per second over the last 60 seconds: now ' + fmtRate(last) + ', peak ' + fmtRate(peak) + '.'
      : 'Requests per second over the last 60 seconds: no data yet.');
  }

  if (window.ResizeObserver) new ResizeObserver(() => drawChart()).observe(canvas);
  else window.addEventListener('resize', () => drawChart());
  if (window.matchMedia) {
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    if (mq.addEventListener) mq.addEventListener('change', () => drawChart());
  }

  // ---- Start --------------------------------------------------------------

  for (const el of document.querySelectorAll('.base-url')) el.textContent = apiBase;
  setupConsole();
  if (getToken()) {
    tokenPanel.hidden = false;
    tokenStatus.textContent = 'A token is set for this tab.';
  }
  drawChart();
  scheduleStats(0);
})();
