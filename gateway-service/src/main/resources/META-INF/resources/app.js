// The page of the gateway: submit a prompt, follow its five stages over server-sent events, play the video.
// Every call carries the API key from the field (kept in this browser's localStorage), so SSE and media are
// fetched with fetch() rather than EventSource or a bare <video src>, which cannot send a header.
'use strict';

const STAGES = ['prior', 'decoder', 'interpolation', 'sr-low', 'sr-high'];
const $ = (id) => document.getElementById(id);
const keyInput = $('api-key');
keyInput.value = localStorage.getItem('mav.apiKey') || '';
keyInput.addEventListener('change', () => {
  localStorage.setItem('mav.apiKey', keyInput.value.trim());
  refreshAll();
});

let current = null;      // {id, stream: AbortController, job, receivedAt}
const objectUrls = new Map();

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = keyInput.value.trim();
  if (key) h['Authorization'] = 'Bearer ' + key;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const res = await fetch(path, opts);
  let body = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) body = await res.json();
  if (res.status === 401) setKeyState('this gateway needs an API key: paste one above', true);
  return { res, body };
}

function setKeyState(text, bad) {
  $('key-state').textContent = text;
  $('key-state').style.color = bad ? '#ffb4bf' : '';
}

// ---- submitting --------------------------------------------------------------------------------------------

function clearErrors() {
  document.querySelectorAll('.field').forEach((f) => {
    f.classList.remove('invalid');
    f.querySelector('.field-error').textContent = '';
  });
  $('form-error').hidden = true;
}

function showProblem(problem, status) {
  const field = problem && problem.field ? problem.field.split('.')[0] : null;
  const box = field && document.querySelector('.field[data-field="' + field + '"]');
  const text = (problem && (problem.detail || problem.title)) || ('HTTP ' + status);
  if (box) {
    box.classList.add('invalid');
    box.querySelector('.field-error').textContent = text;
    const input = box.querySelector('input, textarea');
    if (input) input.focus();
  } else {
    $('form-error').textContent = text;
    $('form-error').hidden = false;
  }
}

function numberOrUndefined(id) {
  const v = $(id).value.trim();
  return v === '' ? undefined : Number(v);
}

$('prompt-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors();
  const body = { prompt: $('prompt').value };
  const neg = $('negative_prompt').value.trim();
  if (neg) body.negative_prompt = neg;
  for (const f of ['seed', 'fps', 'guidance_scale']) {
    const v = numberOrUndefined(f);
    if (v !== undefined) body[f] = v;
  }
  const steps = numberOrUndefined('steps');
  if (steps !== undefined) {
    body.steps = { prior: steps, decoder: steps, interpolation: steps, srLow: steps, srHigh: steps };
  }
  $('submit').disabled = true;
  try {
    const { res, body: job } = await api('/v1/videos', {
      method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' },
    });
    if (res.status === 202) {
      follow(job);
      refreshGallery();
    } else if (res.status === 429) {
      showProblem({ detail: (job && job.detail) + ' (retry in ' + res.headers.get('Retry-After') + ' s)' }, 429);
    } else {
      showProblem(job, res.status);
    }
  } catch (e) {
    showProblem({ detail: 'cannot reach the gateway: ' + e.message });
  } finally {
    $('submit').disabled = false;
  }
});

// ---- following one job ------------------------------------------------------------------------------------

function buildStages() {
  $('stages').innerHTML = STAGES.map((s) =>
    '<div class="stage" data-stage="' + s + '"><span>' + s + '</span><div class="bar"><div></div></div>' +
    '<span class="steps"></span><span class="elapsed"></span></div>').join('');
}
buildStages();

function follow(job) {
  if (current && current.stream) current.stream.abort();
  history.replaceState(null, '', '#' + encodeURIComponent(job.id));
  current = { id: job.id, stream: new AbortController(), job: null, receivedAt: 0 };
  $('job').hidden = false;
  $('player').hidden = true;
  $('player').removeAttribute('src');
  render(job);
  streamEvents(current);
}

async function streamEvents(state) {
  try {
    const res = await fetch('/v1/videos/' + encodeURIComponent(state.id) + '/events', {
      headers: headers({ Accept: 'text/event-stream' }), signal: state.stream.signal,
    });
    if (!res.ok) {
      const problem = await res.json().catch(() => null);
      showJobError((problem && problem.detail) || ('events: HTTP ' + res.status));
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (data && state === current) render(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') showJobError('lost the event stream: ' + e.message);
  }
}

function showJobError(text) {
  $('job-error').textContent = text;
  $('job-error').hidden = false;
}

function render(job) {
  if (!current || job.id !== current.id) return;
  current.job = job;
  current.receivedAt = performance.now();
  $('job-id').textContent = job.id;
  $('job-status').textContent = job.status + ' · ' + job.progress + '%';
  $('job-status').className = 'badge ' + job.status;
  $('job-prompt').textContent = job.prompt || '';
  for (const s of job.stages) {
    const row = document.querySelector('.stage[data-stage="' + s.stage + '"]');
    row.className = 'stage ' + s.state;
    const pct = s.state === 'done' ? 100 : (s.step && s.total_steps ? Math.round(100 * s.step / s.total_steps) : 0);
    row.querySelector('.bar > div').style.width = pct + '%';
    row.querySelector('.steps').textContent = s.state === 'pending' ? 'waiting'
      : (s.total_steps ? 'step ' + (s.step || 0) + '/' + s.total_steps : s.state);
  }
  tickElapsed();
  $('cancel').hidden = job.status !== 'queued' && job.status !== 'in_progress';
  if (job.error) {
    showJobError('failed in ' + job.error.stage + ': ' + job.error.message);
  } else {
    $('job-error').hidden = true;
  }
  if (job.status === 'completed') {
    loadVideo(job.id);
    refreshGallery();
  }
}

// DELETE of a job in flight cancels it: no stage starts it any more, the one running it stops at its next step
$('cancel').addEventListener('click', async () => {
  if (!current) return;
  $('cancel').disabled = true;
  try {
    const { res, body } = await api('/v1/videos/' + encodeURIComponent(current.id), { method: 'DELETE' });
    if (res.ok && body) render(body);
    else showJobError((body && body.detail) || ('cancel: HTTP ' + res.status));
  } finally {
    $('cancel').disabled = false;
  }
});

function tickElapsed() {
  if (!current || !current.job) return;
  const since = performance.now() - current.receivedAt;
  for (const s of current.job.stages) {
    const row = document.querySelector('.stage[data-stage="' + s.stage + '"]');
    let ms = s.elapsed_ms;
    if (ms != null && s.state === 'running') ms += since;
    row.querySelector('.elapsed').textContent = ms == null ? '' : (ms / 1000).toFixed(1) + ' s';
  }
}
setInterval(tickElapsed, 250);

async function mediaUrl(id, variant) {
  const cacheKey = id + ':' + variant;
  if (objectUrls.has(cacheKey)) return objectUrls.get(cacheKey);
  const res = await fetch('/v1/videos/' + encodeURIComponent(id) + '/content?variant=' + variant, { headers: headers() });
  if (!res.ok) throw new Error(variant + ': HTTP ' + res.status);
  const url = URL.createObjectURL(await res.blob());
  objectUrls.set(cacheKey, url);
  return url;
}

async function loadVideo(id) {
  try {
    const player = $('player');
    const url = await mediaUrl(id, 'video');
    if (current && current.id === id && player.getAttribute('src') !== url) {
      player.src = url;
      player.hidden = false;
      player.play().catch(() => {});
    }
  } catch (e) {
    showJobError('cannot load the video: ' + e.message);
  }
}

// ---- gallery and stage panel ------------------------------------------------------------------------------

async function refreshGallery() {
  const { res, body } = await api('/v1/videos?limit=24');
  const gallery = $('gallery');
  if (!res.ok) {
    gallery.textContent = (body && body.detail) || ('HTTP ' + res.status);
    return;
  }
  setKeyState(keyInput.value.trim() ? 'key accepted' : 'open gateway: no key needed here', false);
  if (!body.data.length) {
    gallery.innerHTML = '<p class="muted">No videos yet.</p>';
    return;
  }
  gallery.innerHTML = '';
  for (const job of body.data) {
    const tile = document.createElement('div');
    tile.className = 'tile';
    tile.dataset.id = job.id;
    const thumb = document.createElement('div');
    thumb.className = 'thumb';
    thumb.textContent = job.status === 'completed' ? '' : job.status.replace('_', ' ') + ' · ' + job.progress + '%';
    const p = document.createElement('p');
    p.textContent = job.prompt || job.id;
    p.title = job.prompt || job.id;
    tile.append(thumb, p);
    tile.addEventListener('click', () => follow(job));
    gallery.append(tile);
    if (job.status === 'completed') {
      mediaUrl(job.id, 'thumbnail').then((u) => { thumb.style.backgroundImage = 'url(' + u + ')'; })
        .catch(() => { thumb.textContent = 'no poster'; });
    }
  }
}

async function refreshStages() {
  const { res, body } = await api('/v1/stages');
  if (!res.ok) return;
  const fmt = (ms) => ms == null ? '–' : (ms / 1000).toFixed(1) + ' s';
  $('stage-stats').querySelector('tbody').innerHTML = body.stages.map((s) =>
    '<tr><td>' + s.stage + '</td><td>' + s.throughput_per_min + '</td><td>' + fmt(s.latency_p50_ms) + '</td><td>' +
    fmt(s.latency_p95_ms) + '</td><td>' + s.in_flight + '</td><td>' + (s.lag == null ? '?' : s.lag) + '</td></tr>').join('');
  $('stage-source').textContent = 'last ' + Math.round(body.window_seconds / 60) + ' min; ' + body.source;
}

function refreshAll() {
  refreshGallery();
  refreshStages();
}

// /#<job id> opens that job, so a job's page can be shared or bookmarked
async function followFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id || (current && current.id === id)) return;
  const { res, body } = await api('/v1/videos/' + encodeURIComponent(id));
  if (res.ok) follow(body);
}
window.addEventListener('hashchange', followFromHash);
refreshAll();
followFromHash();
setInterval(refreshStages, 5000);
setInterval(refreshGallery, 15000);
