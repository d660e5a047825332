// tokenmarket console: a client of the public API only. The API key lives in this closure and nowhere else
// (no storage, no cookie, no URL); every text from the API is put in the page as text, never as markup.
(function () {
  'use strict';

  const MARKET_POLL_MS = 10000;
  const BALANCE_POLL_MS = 10000;
  const PAGE_ROWS = 20;

  let apiKey = null;
  const timers = [];
  const charts = {};

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children; strings become text nodes, so nothing is parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** Escapes text for the chart library's tooltips, which take HTML strings. */
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function td(value, cls) {
    return el('td', { class: cls }, value === null || value === undefined ? '–' : value);
  }

  function utcDay(offsetDays) {
    const d = new Date(Date.now() + (offsetDays || 0) * 86400000);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(from, to) {
    const out = [];
    for (let t = Date.parse(from + 'T00:00:00Z'); t <= Date.parse(to + 'T00:00:00Z'); t += 86400000) {
      out.push(new Date(t).toISOString().slice(0, 10));
    }
    return out;
  }

  function pct(p) {
    return p ? p.p50 + ' / ' + p.p90 : '–';
  }

  /** A list shown PAGE_ROWS at a time with previous and next buttons; a refresh stays on the page shown. */
  function paged(tbody, pager, items, render) {
    const pages = Math.max(1, Math.ceil(items.length / PAGE_ROWS));
    let page = Math.min(Number(pager.dataset.page || 0), pages - 1);
    function show() {
      pager.dataset.page = String(page);
      fill(tbody, items.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS).map(render));
      pager.replaceChildren(
        el('button', { type: 'button', class: 'secondary', disabled: page === 0, onclick: () => { page--; show(); } }, 'Previous'),
        el('span', {}, 'Page ' + (page + 1) + ' of ' + pages + ' (' + items.length + ' rows)'),
        el('button', { type: 'button', class: 'secondary', disabled: page >= pages - 1, onclick: () => { page++; show(); } }, 'Next'));
    }
    show();
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** Calls the API with the key; an error answer (problem+json on /api, OpenAI's shape on /v1) becomes an ApiError. */
  async function api(method, path, options) {
    const opts = options || {};
    const headers = { Authorization: 'Bearer ' + apiKey, Accept: opts.accept || 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    Object.assign(headers, opts.headers || {});
    let response;
    try {
      response = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'network', 'The console could not reach the server (' + e.message + '). Check that it runs, then try again.');
    }
    if (!response.ok) throw await errorOf(response);
    if (opts.raw) return response;
    return response.status === 204 ? null : response.json();
  }

  async function errorOf(response) {
    let code = 'http_' + response.status;
    let message = response.statusText || 'The server answered ' + response.status + '.';
    try {
      const body = await response.json();
      if (body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      } else {
        code = body.code || code;
        message = body.detail || body.title || message;
      }
    } catch (ignored) {
      // Not JSON: the status line says what there is to say.
    }
    return new ApiError(response.status, code, message);
  }

  /** What a person can do about each kind of failure. */
  function hint(err) {
    switch (err.status) {
      case 401: return 'Sign out and sign in again with a valid, unrevoked key.';
      case 403: return 'Use a key of an organization with the role this part of the console needs.';
      case 402: return 'Add funds (finance records a deposit) or raise the key\'s spend limit.';
      case 404: return 'Check the id or name you entered.';
      case 409: return 'The request conflicts with the current state; reload this page part and try again.';
      case 429: return 'Wait a moment and try again, or raise the key\'s limits.';
      case 502: return 'The provider failed; try again, or let routing fall back to another provider.';
      case 503: return 'No provider matches: loosen the price or speed constraints.';
      case 400: return 'Correct the field named in the message and send again.';
      default: return err.status >= 500 ? 'The server failed; try again, and tell the operator if it persists.' : '';
    }
  }

  function showError(where, err) {
    const box = $('error');
    const e = err instanceof ApiError ? err : new ApiError(0, 'console', String(err && err.message || err));
    box.replaceChildren(
      el('strong', {}, where + ': '),
      el('span', { class: 'error-message' }, e.message),
      el('span', {}, e.status ? ' (HTTP ' + e.status + ', ' + e.code + ') ' : ' '),
      el('span', {}, hint(e)),
      el('button', { type: 'button', class: 'secondary', onclick: () => { box.hidden = true; } }, 'Dismiss'));
    box.hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
  }

  /** Runs an action, showing its failure in the error box. */
  async function attempt(where, action) {
    try {
      await action();
    } catch (e) {
      showError(where, e);
    }
  }

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
    return charts[id];
  }

  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));

  // ---------------------------------------------------------------- market

  async function loadMarket() {
    const models = (await api('GET', '/v1/models')).data;
    fill($('models').tBodies[0], models.map((m) => el('tr', {},
      el('th', { scope: 'row' }, m.id), td(m.endpoints, 'num'), td(m.pricing.prompt, 'num'), td(m.pricing.completion, 'num'),
      el('td', {}, el('button', { type: 'button', onclick: () => selectModel(m.id) }, 'Endpoints')))));
    const selected = $('model-detail').dataset.model || (models[0] && models[0].id);
    if (selected) await showModel(selected);
  }

  async function selectModel(model) {
    await attempt('Market', () => showModel(model));
  }

  async function showModel(model) {
    const endpoints = (await api('GET', '/v1/models/' + encodeURIComponent(model) + '/endpoints')).data.endpoints;
    const detail = $('model-detail');
    detail.dataset.model = model;
    detail.hidden = false;
    $('model-name').textContent = model;
    const filter = $('endpoint-filter').value.trim().toLowerCase();
    const shown = filter ? endpoints.filter((e) => [e.provider, e.hardware, e.hardware_class, e.region]
      .some((v) => String(v).toLowerCase().includes(filter))) : endpoints;
    paged($('endpoints').tBodies[0], $('endpoints-pager'), shown, (e) => el('tr', { 'data-endpoint': e.id },
      td(e.provider), td(e.hardware, 'hardware'), td(e.hardware_class), td(e.region),
      td(e.pricing.prompt, 'num price-prompt'), td(e.pricing.completion, 'num price-completion'),
      td(e.declared.ttft_ms, 'num'), td(e.declared.throughput_tps, 'num'),
      td(pct(e.measured.ttft_ms), 'num'), td(pct(e.measured.throughput_tps), 'num'),
      td(e.live.success_rate === null ? '–' : (e.live.success_rate * 100).toFixed(1) + ' %', 'num'),
      td(e.live.circuit_open ? 'open' : 'closed')));
    drawFrontier(endpoints);
  }

  /** Price (completion, USD/1M) against throughput (measured p50, else declared); the frontier is the fastest at its price. */
  function drawFrontier(endpoints) {
    const points = endpoints.map((e) => ({
      value: [Number(e.pricing.completion), e.measured.throughput_tps ? e.measured.throughput_tps.p50 : e.declared.throughput_tps],
      label: e.provider + ' · ' + e.hardware + ' · ' + e.region,
      measured: !!e.measured.throughput_tps,
    }));
    const frontier = [];
    let best = -Infinity;
    for (const p of [...points].sort((a, b) => a.value[0] - b.value[0] || b.value[1] - a.value[1])) {
      if (p.value[1] > best) {
        frontier.push(p.value);
        best = p.value[1];
      }
    }
    chart('frontier-chart').setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: (p) => p.seriesIndex === 0
        ? escapeHtml(p.data.label) + '<br>' + escapeHtml(p.data.value[0]) + ' USD/1M · ' + escapeHtml(p.data.value[1]) + ' tok/s'
          + (p.data.measured ? ' (measured)' : ' (declared)')
        : 'frontier' },
      legend: { data: ['Endpoints', 'Frontier'] },
      grid: { left: 60, right: 20, top: 40, bottom: 50 },
      xAxis: { type: 'value', name: 'completion price, USD / 1M tokens', nameLocation: 'middle', nameGap: 30, scale: true },
      yAxis: { type: 'value', name: 'tokens / s', scale: true },
      series: [
        { name: 'Endpoints', type: 'scatter', symbolSize: 12, data: points },
        { name: 'Frontier', type: 'line', step: 'end', symbol: 'none', data: frontier },
      ],
    }, true);
  }

  // ---------------------------------------------------------------- buyer

  async function loadBalance() {
    const b = await api('GET', '/api/balance');
    $('balance-available').textContent = b.available;
    $('balance-held').textContent = b.held;
    $('balance-posted').textContent = b.posted;
  }

  async function loadSpend() {
    const from = $('spend-from').value;
    const to = $('spend-to').value;
    const metric = $('spend-metric').value;
    const usage = await api('GET', '/api/usage/daily?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to));
    fill($('spend-table').tBodies[0], usage.data.map((r) => el('tr', {},
      td(r.day), td(r.model), td(r.requests, 'num'), td(r.prompt_tokens, 'num'), td(r.completion_tokens, 'num'), td(r.spend, 'num'))));
    const days = daysBetween(usage.from, usage.to);
    const models = [...new Set(usage.data.map((r) => r.model))];
    const series = models.map((model) => ({
      name: model, type: 'bar', stack: 'usage',
      data: days.map((day) => {
        const row = usage.data.find((r) => r.day === day && r.model === model);
        if (!row) return { value: 0, spend: '0', tokens: 0 };
        const tokens = row.prompt_tokens + row.completion_tokens;
        return { value: metric === 'spend' ? Number(row.spend) : tokens, spend: row.spend, tokens };
      }),
    }));
    chart('spend-chart').setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: (p) => escapeHtml(p.seriesName) + ' on ' + escapeHtml(p.name) + ': '
        + (metric === 'spend' ? escapeHtml(p.data.spend) + ' USD' : escapeHtml(p.data.tokens) + ' tokens') },
      legend: { type: 'scroll', data: models },
      grid: { left: 70, right: 20, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: days },
      yAxis: { type: 'value', name: metric === 'spend' ? 'USD' : 'tokens' },
      series,
    }, true);
  }

  async function loadModelsForPlayground() {
    const models = (await api('GET', '/v1/models')).data;
    const select = $('pg-model');
    const current = select.value;
    select.replaceChildren(...models.map((m) => el('option', { value: m.id, selected: m.id === current }, m.id)));
  }

  function preferences() {
    const provider = {};
    if ($('pg-sort').value) provider.sort = $('pg-sort').value;
    const prompt = $('pg-max-prompt').value.trim();
    const completion = $('pg-max-completion').value.trim();
    if (prompt || completion) {
      provider.max_price = {};
      if (prompt) provider.max_price.prompt = prompt;
      if (completion) provider.max_price.completion = completion;
    }
    if ($('pg-min-tps').value) provider.preferred_min_throughput = Number($('pg-min-tps').value);
    const only = $('pg-only').value.split(',').map((v) => v.trim()).filter((v) => v);
    if (only.length) provider.only = only;
    if ($('pg-fallbacks').value === 'false') provider.allow_fallbacks = false;
    return provider;
  }

  /** Streams one chat completion, showing the provider, TTFT, tokens per second and cost as they arrive. */
  async function play() {
    const send = $('pg-send');
    send.disabled = true;
    for (const id of ['pg-provider', 'pg-generation', 'pg-ttft', 'pg-tps', 'pg-tokens', 'pg-cost', 'pg-billed']) $(id).textContent = '–';
    const output = $('pg-output');
    output.textContent = '';
    try {
      const body = { model: $('pg-model').value, messages: [{ role: 'user', content: $('pg-prompt').value }],
        max_tokens: Number($('pg-max-tokens').value) || 64, stream: true, provider: preferences() };
      const started = performance.now();
      const response = await api('POST', '/v1/chat/completions', { body, accept: 'text/event-stream', raw: true });
      let generationId = response.headers.get('X-Generation-Id');
      if (generationId) $('pg-generation').textContent = generationId;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let firstTokenAt = null;
      let pieces = 0;
      let usage = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') continue;
            const chunk = JSON.parse(data);
            if (chunk.error) throw new ApiError(502, chunk.error.code || 'stream_error', chunk.error.message);
            if (chunk.provider) $('pg-provider').textContent = chunk.provider;
            if (chunk.id && !generationId) {
              generationId = chunk.id;
              $('pg-generation').textContent = generationId;
            }
            const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
            if (delta && delta.content) {
              const now = performance.now();
              if (firstTokenAt === null) {
                firstTokenAt = now;
                $('pg-ttft').textContent = Math.round(now - started) + ' ms';
              }
              pieces++;
              output.append(document.createTextNode(delta.content));
              const seconds = (now - firstTokenAt) / 1000;
              if (seconds > 0) $('pg-tps').textContent = (pieces / seconds).toFixed(1);
            }
            if (chunk.usage) usage = chunk.usage;
          }
        }
      }
      if (usage) {
        $('pg-tokens').textContent = usage.prompt_tokens + ' prompt + ' + usage.completion_tokens + ' completion';
        $('pg-cost').textContent = usage.cost;
        if (firstTokenAt !== null) {
          const seconds = (performance.now() - firstTokenAt) / 1000;
          if (seconds > 0) $('pg-tps').textContent = (usage.completion_tokens / seconds).toFixed(1);
        }
      }
      if (generationId) {
        const g = (await api('GET', '/v1/generation?id=' + encodeURIComponent(generationId))).data;
        $('pg-billed').textContent = g.cost + ' (' + g.provider + ', ' + g.completion_tokens + ' tokens, finish ' + g.finish_reason + ')';
      }
      await Promise.all([loadBalance(), loadSpend()]);
    } finally {
      send.disabled = false;
    }
  }

  async function lookup() {
    const g = (await api('GET', '/v1/generation?id=' + encodeURIComponent($('lookup-id').value.trim()))).data;
    const facts = [['Model', g.model], ['Provider', g.provider], ['Cost (USD)', g.cost], ['Prompt tokens', g.prompt_tokens],
      ['Completion tokens', g.completion_tokens], ['Latency ms', g.latency_ms], ['TTFT ms', g.ttft_ms],
      ['Throughput tok/s', g.throughput_tps], ['Finish reason', g.finish_reason], ['Created', g.created_at]];
    $('lookup-result').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v === null ? '–' : v)]));
  }

  const keyPages = [];

  async function loadKeys(startingAfter) {
    const page = await api('GET', '/api/keys?limit=' + PAGE_ROWS + (startingAfter ? '&starting_after=' + encodeURIComponent(startingAfter) : ''));
    fill($('keys').tBodies[0], await Promise.all(page.data.map(async (k) => {
      let spent = '–';
      if (k.status === 'active') {
        try {
          spent = (await api('GET', '/api/keys/' + k.id + '/limits')).current.spend;
        } catch (ignored) {
          // Another organization's key limits are not this caller's to read; the row shows none.
        }
      }
      const limits = k.limits || {};
      return el('tr', {},
        td(k.name), td(k.prefix), td(k.status), td(k.last_used_at), td(limits.requests_per_minute, 'num'),
        td(limits.tokens_per_minute, 'num'), td(limits.spend_limit ? limits.spend_limit + ' ' + limits.spend_limit_reset : null, 'num'),
        td(spent, 'num'),
        el('td', {},
          k.status === 'active' ? el('button', { type: 'button', onclick: () => editLimits(k) }, 'Limits') : null, ' ',
          k.status === 'active' ? el('button', { type: 'button', onclick: () => attempt('Revoke key', () => revokeKey(k)) }, 'Revoke') : null));
    })));
    const pager = $('keys-pager');
    pager.replaceChildren(
      el('button', { type: 'button', class: 'secondary', disabled: keyPages.length === 0,
        onclick: () => attempt('Keys', () => loadKeys(keyPages.pop())) }, 'Previous'),
      el('button', { type: 'button', class: 'secondary', disabled: !page.has_more,
        onclick: () => { keyPages.push(startingAfter); return attempt('Keys', () => loadKeys(page.data[page.data.length - 1].id)); } }, 'Next'));
  }

  async function revokeKey(k) {
    if (!window.confirm('Revoke key ' + k.name + ' (' + k.prefix + ')? Requests with it fail from now on.')) return;
    await api('DELETE', '/api/keys/' + k.id);
    await loadKeys();
  }

  function editLimits(k) {
    const form = $('limits-form');
    form.dataset.key = k.id;
    $('limits-key').textContent = k.name + ' (' + k.prefix + ')';
    const limits = k.limits || {};
    $('limit-rpm').value = limits.requests_per_minute || '';
    $('limit-tpm').value = limits.tokens_per_minute || '';
    $('limit-spend').value = limits.spend_limit || '';
    $('limit-reset').value = limits.spend_limit_reset === 'never' ? '' : (limits.spend_limit_reset || '');
    form.hidden = false;
    $('limit-rpm').focus();
  }

  async function saveLimits() {
    const form = $('limits-form');
    const spend = $('limit-spend').value.trim();
    await api('PUT', '/api/keys/' + form.dataset.key + '/limits', { body: {
      requests_per_minute: $('limit-rpm').value ? Number($('limit-rpm').value) : null,
      tokens_per_minute: $('limit-tpm').value ? Number($('limit-tpm').value) : null,
      spend_limit: spend || null,
      spend_limit_reset: $('limit-reset').value || 'never',
    } });
    form.hidden = true;
    await loadKeys();
  }

  async function createKey() {
    const created = await api('POST', '/api/keys', { body: { name: $('key-name').value } });
    const box = $('key-created');
    box.replaceChildren(el('strong', {}, 'New key, shown once: '), el('code', {}, created.key));
    box.hidden = false;
    $('key-name').value = '';
    await loadKeys();
  }

  // ---------------------------------------------------------------- provider

  let ownEndpoints = [];

  async function loadOwnEndpoints() {
    ownEndpoints = (await api('GET', '/api/endpoints')).data;
    paged($('own-endpoints').tBodies[0], $('own-endpoints-pager'), ownEndpoints, (e) => el('tr', { 'data-endpoint': e.id },
      td(e.model), td(e.hardware), td(e.region), td(e.pricing.prompt, 'num'), td(e.pricing.completion, 'num'),
      td(e.capacity.tokens_per_minute, 'num'), td(e.capacity.max_concurrency, 'num'), td(e.status),
      el('td', {}, e.status === 'deactivated' ? null : [
        el('button', { type: 'button', onclick: () => editEndpoint(e) }, 'Edit'), ' ',
        el('button', { type: 'button', onclick: () => attempt('Endpoint', () => setStatus(e, e.status === 'paused' ? 'active' : 'paused')) },
          e.status === 'paused' ? 'Resume' : 'Pause'), ' ',
        el('button', { type: 'button', onclick: () => attempt('Endpoint', () => deleteEndpoint(e)) }, 'Delete')])));
    const select = $('speed-endpoint');
    const current = select.value;
    select.replaceChildren(...ownEndpoints.map((e) => el('option', { value: e.id, selected: e.id === current },
      e.model + ' · ' + e.hardware + ' · ' + e.region + ' (' + e.status + ')')));
  }

  function endpointForm() {
    const backend = { type: $('ep-backend').value };
    if (backend.type === 'openai') {
      backend.url = $('ep-url').value;
      if ($('ep-backend-model').value) backend.model = $('ep-backend-model').value;
      if ($('ep-backend-key').value) backend.api_key = $('ep-backend-key').value;
    }
    return {
      model: $('ep-model').value, hardware: $('ep-hardware').value, hardware_class: $('ep-class').value, region: $('ep-region').value,
      pricing: { prompt: $('ep-prompt').value.trim(), completion: $('ep-completion').value.trim() },
      declared: { throughput_tps: Number($('ep-tps').value), ttft_ms: Number($('ep-ttft').value) },
      capacity: { tokens_per_minute: Number($('ep-tpm').value), max_concurrency: Number($('ep-concurrency').value) },
      backend,
    };
  }

  async function submitEndpoint() {
    const form = endpointForm();
    const id = $('ep-id').value;
    if (id) {
      await api('PATCH', '/api/endpoints/' + id, { body: { pricing: form.pricing, capacity: form.capacity, declared: form.declared } });
    } else {
      await api('POST', '/api/endpoints', { body: form });
    }
    resetEndpointForm();
    await loadOwnEndpoints();
  }

  function editEndpoint(e) {
    $('ep-id').value = e.id;
    $('ep-model').value = e.model;
    $('ep-hardware').value = e.hardware;
    $('ep-class').value = e.hardware_class;
    $('ep-region').value = e.region;
    $('ep-prompt').value = e.pricing.prompt;
    $('ep-completion').value = e.pricing.completion;
    $('ep-tps').value = e.declared.throughput_tps;
    $('ep-ttft').value = e.declared.ttft_ms;
    $('ep-tpm').value = e.capacity.tokens_per_minute;
    $('ep-concurrency').value = e.capacity.max_concurrency;
    for (const id of ['ep-model', 'ep-hardware', 'ep-class', 'ep-region', 'ep-backend', 'ep-url', 'ep-backend-model', 'ep-backend-key']) $(id).disabled = true;
    $('endpoint-form-title').textContent = 'Edit prices, speed and capacity';
    $('ep-submit').textContent = 'Save changes';
    $('ep-cancel').hidden = false;
    $('ep-prompt').focus();
  }

  function resetEndpointForm() {
    $('endpoint-form').reset();
    $('ep-id').value = '';
    for (const id of ['ep-model', 'ep-hardware', 'ep-class', 'ep-region', 'ep-backend', 'ep-url', 'ep-backend-model', 'ep-backend-key']) $(id).disabled = false;
    $('endpoint-form-title').textContent = 'List an endpoint';
    $('ep-submit').textContent = 'List endpoint';
    $('ep-cancel').hidden = true;
  }

  async function setStatus(e, status) {
    await api('PATCH', '/api/endpoints/' + e.id, { body: { status } });
    await loadOwnEndpoints();
  }

  async function deleteEndpoint(e) {
    if (!window.confirm('Deactivate this endpoint? Routing stops sending it requests; this cannot be undone.')) return;
    await api('DELETE', '/api/endpoints/' + e.id);
    await loadOwnEndpoints();
  }

  async function loadSpeed() {
    const id = $('speed-endpoint').value;
    if (!id) return;
    const bucket = $('speed-bucket').value;
    const speed = await api('GET', '/api/endpoints/' + encodeURIComponent(id) + '/speed?bucket=' + bucket);
    const times = speed.data.map((b) => b.start);
    const declared = (value) => times.map(() => value);
    chart('speed-chart').setOption({
      animation: false,
      tooltip: { trigger: 'axis', formatter: (ps) => ps.map((p) => escapeHtml(p.seriesName) + ': ' + escapeHtml(p.value)).join('<br>') },
      legend: { type: 'scroll' },
      grid: { left: 60, right: 60, top: 50, bottom: 40 },
      xAxis: { type: 'category', data: times.map((t) => t.slice(0, 16).replace('T', ' ')) },
      yAxis: [{ type: 'value', name: 'tok/s' }, { type: 'value', name: 'TTFT ms' }],
      series: [
        { name: 'tok/s p50', type: 'line', data: speed.data.map((b) => b.throughput_tps.p50) },
        { name: 'tok/s p90', type: 'line', data: speed.data.map((b) => b.throughput_tps.p90) },
        { name: 'tok/s declared', type: 'line', lineStyle: { type: 'dashed' }, symbol: 'none', data: declared(speed.declared.throughput_tps) },
        { name: 'TTFT p50', type: 'line', yAxisIndex: 1, data: speed.data.map((b) => b.ttft_ms.p50) },
        { name: 'TTFT p90', type: 'line', yAxisIndex: 1, data: speed.data.map((b) => b.ttft_ms.p90) },
        { name: 'TTFT declared', type: 'line', yAxisIndex: 1, lineStyle: { type: 'dashed' }, symbol: 'none', data: declared(speed.declared.ttft_ms) },
      ],
    }, true);
  }

  async function loadEarnings() {
    const query = '?from=' + encodeURIComponent($('earnings-from').value) + '&to=' + encodeURIComponent($('earnings-to').value);
    const [served, earnings] = await Promise.all([api('GET', '/api/usage/served/daily' + query), api('GET', '/api/ledger/earnings' + query)]);
    const days = daysBetween(earnings.from, earnings.to);
    const byDay = (rows, day) => rows.filter((r) => r.day === day);
    const rows = days.map((day) => {
      const s = byDay(served.data, day);
      const e = byDay(earnings.data, day)[0] || { earned: '0', reversed: '0', paid_out: '0' };
      return { day, requests: s.reduce((n, r) => n + r.requests, 0), tokens: s.reduce((n, r) => n + r.completion_tokens, 0), ...e };
    });
    fill($('earnings-table').tBodies[0], rows.filter((r) => r.requests || Number(r.earned) || Number(r.paid_out) || Number(r.reversed))
      .map((r) => el('tr', {}, td(r.day), td(r.requests, 'num'), td(r.tokens, 'num'), td(r.earned, 'num'), td(r.reversed, 'num'), td(r.paid_out, 'num'))));
    chart('earnings-chart').setOption({
      animation: false,
      tooltip: { trigger: 'axis', formatter: (ps) => escapeHtml(ps[0].name) + '<br>' + ps.map((p) => escapeHtml(p.seriesName) + ': ' + escapeHtml(p.value)).join('<br>') },
      legend: {},
      grid: { left: 60, right: 70, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: days },
      yAxis: [{ type: 'value', name: 'requests' }, { type: 'value', name: 'USD earned' }],
      series: [
        { name: 'Requests', type: 'bar', data: rows.map((r) => r.requests) },
        { name: 'Earned (USD)', type: 'line', yAxisIndex: 1, data: rows.map((r) => Number(r.earned)) },
      ],
    }, true);
    const statement = await api('GET', '/api/ledger/accounts/' + earnings.account_id + '/statement?from=' + earnings.from + '&to='
      + new Date(Date.parse(earnings.to + 'T00:00:00Z') + 86400000).toISOString().slice(0, 10));
    fill($('payouts').tBodies[0], statement.entries.filter((l) => l.code === 'payout').map((l) => el('tr', {},
      td(l.created_at), td(l.description), td(l.debit, 'num'), td(l.balance, 'num'))));
  }

  // ---------------------------------------------------------------- finance

  async function loadSettlement() {
    const s = await api('GET', '/api/ledger/settlement');
    $('settlement-state').textContent = (s.paused ? 'Paused' : 'Running') + (s.reason ? ': ' + s.reason : '')
      + ' (since ' + s.changed_at + '; consumer lag '
      + (s.consumer_lag && s.consumer_lag.available ? s.consumer_lag.total + ' events' : 'not measured') + ')';
  }

  async function setSettlement(pause) {
    await api('POST', '/api/ledger/settlement/' + (pause ? 'pause' : 'resume'), { body: pause ? { reason: $('settlement-reason').value || null } : {} });
    await loadSettlement();
  }

  async function loadLedger() {
    const trial = await api('GET', '/api/ledger/trial-balance');
    $('trial-summary').textContent = (trial.balanced ? 'Balanced' : 'NOT BALANCED') + ': debits ' + trial.total_debits
      + ', credits ' + trial.total_credits + ', difference ' + trial.difference + ' USD.';
    $('trial-summary').className = trial.balanced ? '' : 'problem';
    const accounts = (await api('GET', '/api/ledger/accounts')).accounts;
    paged($('accounts').tBodies[0], $('accounts-pager'), accounts, (a) => el('tr', {},
      td(a.id, 'num'), td(a.code), td(a.kind), td(a.debits, 'num'), td(a.credits, 'num'), td(a.balance, 'num'), td(a.held, 'num')));
  }

  function statementPath() {
    return '/api/ledger/accounts/' + encodeURIComponent($('statement-account').value.trim()) + '/statement?from='
      + encodeURIComponent($('statement-from').value) + '&to=' + encodeURIComponent($('statement-to').value);
  }

  async function loadStatement() {
    const s = await api('GET', statementPath());
    $('statement-summary').textContent = s.account.code + ': opening ' + s.opening_balance + ', debits ' + s.total_debits
      + ', credits ' + s.total_credits + ', closing ' + s.closing_balance + ' USD.';
    paged($('statement').tBodies[0], $('statement-pager'), s.entries, (l) => el('tr', {},
      td(l.created_at), td(l.code), td(l.description), td(l.debit, 'num'), td(l.credit, 'num'), td(l.balance, 'num')));
  }

  /** The API's CSV bytes, saved as they came (the key goes in the header, so a plain link cannot fetch it). */
  async function downloadStatement() {
    const response = await api('GET', statementPath(), { accept: 'text/csv', raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') || '';
    const match = /filename="([^"]+)"/.exec(disposition);
    const link = el('a', { href: URL.createObjectURL(blob), download: match ? match[1] : 'statement.csv' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }

  async function loadReconciliation() {
    const r = await api('GET', '/api/ledger/reconciliation?from=' + encodeURIComponent($('recon-from').value)
      + '&to=' + encodeURIComponent($('recon-to').value));
    const u = r.usage;
    $('recon-summary').textContent = (r.reconciled ? 'Reconciled' : 'NOT reconciled') + ': ' + u.events_metered + ' events metered ('
      + u.cost_metered + ' USD), ' + u.entries_posted + ' posted (' + u.cost_posted + ' USD), ' + u.awaiting_settlement
      + ' awaiting, ' + u.dead_lettered + ' dead-lettered, ' + u.amount_mismatches + ' amount mismatches, '
      + u.entries_without_metering + ' entries without metering; outbox unpublished ' + r.outbox.unpublished + '.';
    $('recon-summary').className = r.reconciled ? '' : 'problem';
    fill($('recon').tBodies[0], r.by_buyer.map((b) => el('tr', {
      class: b.events_metered !== b.entries_posted || b.dead_lettered || b.amount_mismatches || b.awaiting_settlement ? 'problem' : null },
    td(b.org_id), td(b.events_metered, 'num'), td(b.entries_posted, 'num'), td(b.awaiting_settlement, 'num'),
    td(b.dead_lettered, 'num'), td(b.amount_mismatches, 'num'))));
    fill($('dead-letters').tBodies[0], (r.dead_letters.first || []).map((d) => el('tr', { class: 'problem' },
      td(d.id, 'num'), td(d.event_id), td(d.source), td(d.reason), td(d.created_at))));
  }

  // ---------------------------------------------------------------- pages

  const pages = {
    market: { load: loadMarket, poll: [[loadMarket, MARKET_POLL_MS]] },
    buyer: { load: () => Promise.all([loadBalance(), loadSpend(), loadModelsForPlayground(), loadKeys()]), poll: [[loadBalance, BALANCE_POLL_MS]] },
    provider: { load: () => loadOwnEndpoints().then(() => Promise.all([loadSpeed(), loadEarnings()])), poll: [] },
    finance: { load: () => Promise.all([loadSettlement(), loadLedger(), loadReconciliation()]), poll: [] },
  };

  function stopPolling() {
    while (timers.length) clearInterval(timers.pop());
  }

  async function show() {
    stopPolling();
    const name = pages[location.hash.slice(1)] ? location.hash.slice(1) : 'market';
    for (const p of Object.keys(pages)) $('page-' + p).hidden = p !== name;
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clearError();
    const page = pages[name];
    await attempt(name[0].toUpperCase() + name.slice(1), page.load);
    Object.values(charts).forEach((c) => c.resize());
    for (const [fn, ms] of page.poll) {
      timers.push(setInterval(() => attempt('Live update', fn), ms));
    }
    document.body.dataset.loaded = name;
  }

  function signIn(key) {
    apiKey = key;
    $('sign-in').hidden = true;
    $('nav').hidden = false;
    show();
  }

  function signOut() {
    apiKey = null;
    stopPolling();
    Object.values(charts).forEach((c) => c.dispose());
    for (const k of Object.keys(charts)) delete charts[k];
    for (const p of Object.keys(pages)) $('page-' + p).hidden = true;
    $('nav').hidden = true;
    $('sign-in').hidden = false;
    $('api-key').focus();
  }

  function on(id, event, where, action) {
    $(id).addEventListener(event, (e) => {
      e.preventDefault();
      clearError();
      attempt(where, action);
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('market-interval').textContent = String(MARKET_POLL_MS / 1000);
    $('spend-from').value = utcDay(-13);
    $('spend-to').value = utcDay(0);
    $('earnings-from').value = utcDay(-13);
    $('earnings-to').value = utcDay(0);
    $('statement-from').value = utcDay(-30);
    $('statement-to').value = utcDay(1);
    $('recon-from').value = utcDay(-30);
    $('recon-to').value = utcDay(1);
    $('sign-in-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('api-key');
      const key = input.value.trim();
      input.value = '';
      if (key) signIn(key);
    });
    $('sign-out').addEventListener('click', signOut);
    window.addEventListener('hashchange', () => { if (apiKey) show(); });
    on('spend-form', 'submit', 'Spend', loadSpend);
    on('balance-refresh', 'click', 'Balance', loadBalance);
    on('endpoint-filter-form', 'submit', 'Market', () => showModel($('model-detail').dataset.model));
    $('endpoint-filter').addEventListener('input', () => attempt('Market', () => showModel($('model-detail').dataset.model)));
    $('spend-metric').addEventListener('change', () => attempt('Spend', loadSpend));
    on('playground-form', 'submit', 'Playground', play);
    on('lookup-form', 'submit', 'Generation lookup', lookup);
    on('key-form', 'submit', 'Create key', createKey);
    on('limits-form', 'submit', 'Key limits', saveLimits);
    $('limits-cancel').addEventListener('click', () => { $('limits-form').hidden = true; });
    on('endpoint-form', 'submit', 'Endpoint', submitEndpoint);
    $('ep-cancel').addEventListener('click', resetEndpointForm);
    on('speed-form', 'submit', 'Speed', loadSpeed);
    on('earnings-form', 'submit', 'Earnings', loadEarnings);
    on('settlement-pause', 'click', 'Settlement', () => setSettlement(true));
    on('settlement-resume', 'click', 'Settlement', () => setSettlement(false));
    on('statement-form', 'submit', 'Statement', loadStatement);
    on('statement-csv', 'click', 'Statement CSV', downloadStatement);
    on('recon-form', 'submit', 'Reconciliation', loadReconciliation);
    $('api-key').focus();
  });
}());
