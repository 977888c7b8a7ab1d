// datachonk serve: the page. Plain JavaScript, no framework, no build step; it only talks to
// this server's /api/dbt-cloud/* (same origin: the HttpOnly cookie authenticates every call).
// Everything from the server is put on the page with textContent, never as HTML.
"use strict";

(function () {
  const API = "/api/dbt-cloud";
  const FINISHED = ["Success", "Error", "Cancelled"];
  const BUSY_LOOK_MS = 10000;

  const state = {
    status: null, // GET /status
    projectId: null,
    jobs: [], // GET /projects/:id/jobs → jobs
    run: null, // the RunView being shown
    source: null, // its EventSource
    pollTimer: null,
    tickTimer: null, // the live timers' clock while a run is going
    busyTimer: null, // the next look at the job's runs while one started elsewhere is going
    triggering: false,
    retrying: false,
    followRun: false, // after a reload: the picker and Recent runs follow the run shown
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // ---- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, envelope) {
      super(envelope.message || "HTTP " + status);
      this.status = status;
      this.envelope = envelope;
    }
  }

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (_) {
      throw new ApiError(0, {
        status: 0,
        code: "unreachable",
        message: "This page cannot reach datachonk serve.",
        hints: ["Is `datachonk serve` still running? Start it again and open the URL it prints."],
      });
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!res.ok) {
      const envelope = data && data.error && typeof data.error === "object"
        ? data.error
        : { status: res.status, code: "http_" + res.status, message: text.trim() || res.statusText, hints: [] };
      if (envelope.status === undefined) envelope.status = res.status;
      throw new ApiError(res.status, envelope);
    }
    return data;
  }

  // An error envelope as a person reads it: the message, what to do (hints), and the code.
  function showError(box, err) {
    box.replaceChildren();
    const env = err instanceof ApiError
      ? err.envelope
      : { message: String((err && err.message) || err), hints: [] };
    box.append(el("p", { class: "title", text: env.message || "Something went wrong." }));
    const hints = Array.isArray(env.hints) ? env.hints.filter(Boolean) : [];
    if (hints.length) box.append(el("ul", {}, ...hints.map((h) => el("li", { text: h }))));
    if (env.status || env.code) {
      const parts = [];
      if (env.status) parts.push("HTTP " + env.status);
      if (env.code) parts.push(env.code);
      box.append(el("p", { class: "code mono", text: parts.join(" · ") }));
    }
    box.dataset.status = env.status || "";
    box.dataset.code = env.code || "";
    show(box, true);
  }

  function clearError(box) {
    box.replaceChildren();
    delete box.dataset.status;
    delete box.dataset.code;
    show(box, false);
  }

  // ---- formatting -------------------------------------------------------------------------

  function statusClass(status) {
    return "s-" + String(status || "unknown").toLowerCase();
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const s = Number(seconds);
    if (s < 10) return s.toFixed(1) + " s";
    if (s < 60) return Math.round(s) + " s";
    const m = Math.floor(s / 60);
    const rest = Math.round(s - m * 60);
    if (m < 60) return m + " min " + rest + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  // dbt Cloud writes "2024-05-01 12:00:00.123456+00:00"; Date wants a T and milliseconds.
  function parseTime(text) {
    if (!text) return null;
    const iso = String(text).replace(" ", "T").replace(/(\.\d{3})\d+/, "$1");
    const d = new Date(iso);
    return isNaN(d.getTime()) ? null : d;
  }

  function fmtTime(text) {
    const d = parseTime(text);
    if (!d) return text || "";
    const ago = (Date.now() - d.getTime()) / 1000;
    if (ago >= 0 && ago < 60) return "just now";
    if (ago >= 0 && ago < 3600) return Math.floor(ago / 60) + " min ago";
    if (ago >= 0 && ago < 86400) return Math.floor(ago / 3600) + " h ago";
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // datachonk marks the causes it sends (" [dc:1a2b3c4d]") to find a trigger left in doubt;
  // people read the cause without it.
  function causeText(cause) {
    return String(cause || "").replace(/ \[dc:[0-9a-f]{8}\]$/, "");
  }

  // A link from dbt Cloud is followed only when it is a web address (never javascript: or
  // data:, whatever a server sends).
  function webLink(href) {
    try {
      return !!href && ["http:", "https:"].includes(new URL(href).protocol);
    } catch (_) {
      return false;
    }
  }

  function jobName(job) {
    return job.name || "job " + job.id;
  }

  function envName(env) {
    return env.name || "environment " + env.id;
  }

  function badge(status, extraClass) {
    return el("span", { class: "badge " + statusClass(status) + (extraClass ? " " + extraClass : ""), text: status || "?" });
  }

  // ---- connection -------------------------------------------------------------------------

  async function loadStatus() {
    try {
      renderStatus(await api("GET", "/status"));
    } catch (err) {
      // 401: serve was restarted (a new key) under this page; its envelope says what to do.
      $("connection").textContent = err.status === 401 ? "Not authorised" : "Status unavailable";
      showError($("page-error"), err);
    }
  }

  function renderStatus(status) {
    state.status = status;
    clearError($("page-error"));
    const conn = $("connection");
    conn.replaceChildren();
    if (status.connected) {
      const account = status.account || {};
      conn.append("Connected to ", el("strong", { text: account.name || "account" }),
        " (account " + account.id + ")");
      if (status.access_url) conn.append(" · " + status.access_url);
      document.body.dataset.connected = "true";
    } else {
      conn.textContent = "Not connected";
      document.body.dataset.connected = "false";
    }

    show($("connect-section"), !status.connected);
    show($("trigger-section"), !!status.connected);
    prefillCommit(status.local_commit);
    if (!status.connected) {
      stopWatching();
      showRunSection(false);
      show($("recent-section"), false);
      const url = $("access-url");
      if (!url.value && status.access_url) url.value = status.access_url;
      const account = $("account-id");
      if (!account.value && status.account_id) account.value = String(status.account_id);
      return;
    }
    connected(status);
  }

  // The run in the address first (its project and job are then the ones picked), then the
  // projects and jobs.
  async function connected(status) {
    await restoreRun();
    renderProjects(status);
  }

  // The branch and pushed head of serve's repository, unless a person already typed there.
  function prefillCommit(local) {
    const branch = $("git-branch");
    const sha = $("git-sha");
    const note = $("commit-note");
    if (!local) {
      note.textContent = "Empty: the job runs its own branch.";
      return;
    }
    if (!branch.dataset.edited) branch.value = local.branch || "";
    if (!sha.dataset.edited) sha.value = local.sha || "";
    note.textContent = local.sha
      ? "From your repository: " + local.branch + ", pushed at " + String(local.sha).slice(0, 10) +
        ". Empty: the job runs its own branch."
      : "From your repository: " + local.branch + " (not pushed yet: dbt Cloud cannot check it out).";
  }

  // The run shown is kept in the address (#run=ID): a reload shows it again.
  async function restoreRun() {
    const match = /^#run=([0-9]+)$/.exec(location.hash);
    if (!match || (state.run && state.run.id === Number(match[1]))) return;
    try {
      const run = await api("GET", "/runs/" + match[1]);
      state.followRun = true;
      showRun(run, false);
    } catch (_) {
      history.replaceState(null, "", location.pathname); // gone (or another serve): forget it
    }
  }

  async function onConnect(ev) {
    ev.preventDefault();
    const box = $("connect-error");
    clearError(box);
    const token = $("token").value.trim();
    const accountText = $("account-id").value.trim();
    const accessUrl = $("access-url").value.trim();
    if (!token) {
      showError(box, { message: "Enter an API token." });
      $("token").focus();
      return;
    }
    if (!/^[0-9]+$/.test(accountText)) {
      showError(box, { message: "The account id is a number: it is in dbt Cloud's URLs, …/deploy/ACCOUNT_ID/…" });
      $("account-id").focus();
      return;
    }
    const body = { token, account_id: Number(accountText) };
    if (accessUrl) body.access_url = accessUrl;
    const button = $("connect");
    button.disabled = true;
    button.textContent = "Connecting…";
    try {
      const status = await api("POST", "/connect", body);
      $("token").value = "";
      renderStatus(status);
      $("project").focus();
    } catch (err) {
      showError(box, err);
      if (err.status === 401 || err.status === 403) $("token").focus();
    } finally {
      button.disabled = false;
      button.textContent = "Connect";
    }
  }

  // ---- projects, targets, jobs ------------------------------------------------------------

  function renderProjects(status) {
    const select = $("project");
    const projects = status.projects || [];
    const keep = state.projectId;
    select.replaceChildren(...projects.map((p) => el("option", { value: p.id, text: p.name + " (" + p.id + ")" })));
    select.disabled = projects.length === 0;
    if (!projects.length) {
      select.append(el("option", { value: "", text: "No projects in this account" }));
      state.projectId = null;
      state.jobs = [];
      renderJobs();
      return;
    }
    const has = (id) => id !== null && id !== undefined && projects.some((p) => p.id === id);
    const ofRun = state.followRun && state.run ? state.run.project_id : null;
    const chosen = has(ofRun) ? ofRun : has(keep) ? keep : has(status.project_id) ? status.project_id : projects[0].id;
    select.value = String(chosen);
    loadJobs(chosen);
  }

  async function loadJobs(projectId) {
    state.projectId = projectId;
    const job = $("job");
    job.disabled = true;
    $("trigger").disabled = true;
    clearError($("trigger-error"));
    try {
      const answer = await api("GET", "/projects/" + encodeURIComponent(projectId) + "/jobs");
      if (state.projectId !== projectId) return; // another project was picked meanwhile
      state.jobs = answer.jobs || [];
    } catch (err) {
      if (state.projectId !== projectId) return;
      state.jobs = [];
      showError($("trigger-error"), err);
      if (err.envelope && err.envelope.code === "not_connected") loadStatus();
    }
    renderJobs();
  }

  function targets() {
    return (state.status && state.status.targets) || [];
  }

  function jobById(id) {
    return state.jobs.find((j) => j.id === id) || null;
  }

  function renderJobs() {
    const select = $("job");
    const previous = select.value;
    select.replaceChildren();
    const ts = targets();
    if (ts.length) {
      const group = el("optgroup", { label: "Targets (datachonk.yaml)" });
      for (const t of ts) {
        const job = jobById(t.job_id);
        let label = t.name + " → job " + t.job_id + (job ? " · " + jobName(job) : "");
        if (t.default) label += " (default)";
        if (t.confirm) label += " — asks to confirm";
        group.append(el("option", { value: "target:" + t.name, text: label }));
      }
      select.append(group);
    }
    if (state.jobs.length) {
      const project = ((state.status && state.status.projects) || []).find((p) => p.id === state.projectId);
      const group = el("optgroup", { label: "Jobs" + (project ? " in " + project.name : "") });
      for (const j of state.jobs) {
        const env = j.environment ? " · " + envName(j.environment) : "";
        group.append(el("option", { value: "job:" + j.id, text: jobName(j) + " (" + j.id + ")" + env }));
      }
      select.append(group);
    }
    const values = Array.from(select.options).map((o) => o.value);
    if (!values.length) {
      select.append(el("option", { value: "", text: "No jobs in this project" }));
      select.disabled = true;
      $("trigger").disabled = true;
      renderSelection();
      return;
    }
    const byDefault = ts.find((t) => t.default);
    const ofRun = state.followRun && state.run ? runOption(values, state.run.job_id) : null;
    state.followRun = false;
    if (ofRun) select.value = ofRun;
    else if (values.includes(previous)) select.value = previous;
    else if (byDefault) select.value = "target:" + byDefault.name;
    else select.value = values[0];
    select.disabled = false;
    $("trigger").disabled = state.triggering;
    renderSelection();
  }

  // The picker's option for a run's job: the job itself, else a target that runs it.
  function runOption(values, jobId) {
    if (jobId === null || jobId === undefined) return null;
    if (values.includes("job:" + jobId)) return "job:" + jobId;
    const target = targets().find((t) => t.job_id === jobId);
    return target && values.includes("target:" + target.name) ? "target:" + target.name : null;
  }

  // What the job picker points at: { target, job } (target null for a plain job; job null
  // when a target's job is not in the shown project).
  function selection() {
    const value = $("job").value;
    if (value.startsWith("target:")) {
      const target = targets().find((t) => "target:" + t.name === value);
      if (!target) return null;
      return { target, job: jobById(target.job_id), jobId: target.job_id };
    }
    if (value.startsWith("job:")) {
      const id = Number(value.slice(4));
      return { target: null, job: jobById(id), jobId: id };
    }
    return null;
  }

  function renderSelection() {
    const sel = selection();
    const details = $("job-details");
    const warning = $("job-warning");
    warning.replaceChildren();
    show(warning, false);
    if (!sel) {
      show(details, false);
      renderRecent(null);
      return;
    }
    const job = sel.job;
    const parts = [];
    if (sel.target) parts.push("target " + sel.target.name + " runs job " + sel.jobId);
    if (job && job.environment) {
      const env = job.environment;
      parts.push((env.name ? "environment " + env.name : envName(env)) + (env.type ? " (" + env.type + ")" : ""));
    }
    if (job && job.steps && job.steps.length) parts.push(job.steps.join(" → "));
    if (sel.target && sel.target.confirm) parts.push("asks for confirmation before running");
    if (!job && sel.target) parts.push("not a job of this project");
    details.textContent = parts.join(" · ");
    show(details, parts.length > 0);

    if (job && job.validation && job.validation.state_aware === false) {
      warning.append(el("p", { class: "title", text: "⚠ " + jobName(job) + " is not a state-aware validation job" }));
      const advice = (job.validation.advice || []).filter(Boolean);
      if (advice.length) warning.append(el("ul", {}, ...advice.map((a) => el("li", { text: a }))));
      show(warning, true);
    }
    renderBusy();
    renderRecent(job);
  }

  // A run of the picked job still going: the one shown, else one in the job's recent runs.
  function runInProgress(sel) {
    if (!sel) return null;
    if (state.run && state.run.job_id === sel.jobId && !isFinished(state.run)) return state.run;
    const runs = (sel.job && sel.job.recent_runs) || [];
    return runs.find((r) => !r.finished && !(state.run && state.run.id === r.id)) || null;
  }

  function isFinished(run) {
    return !!run.finished || FINISHED.includes(run.status);
  }

  // Trigger Run asks first while the picked job has a run in progress: say so beside it.
  function renderBusy() {
    const box = $("job-busy");
    const busy = runInProgress(selection());
    box.replaceChildren();
    if (busy) {
      box.append(el("p", { class: "title", text: "Run #" + busy.id + " of this job is still " + String(busy.status).toLowerCase() + "." }),
        el("p", { text: "Trigger Run asks before starting another one." }));
    }
    show(box, !!busy);
    $("trigger").dataset.busy = busy ? String(busy.id) : "";
    // A run this page does not follow (triggered elsewhere) ends unseen: look at the job's
    // runs again every 10 s while one is listed as going.
    clearTimeout(state.busyTimer);
    state.busyTimer = busy && !(state.run && state.run.id === busy.id) ? setTimeout(refreshJobs, BUSY_LOOK_MS) : null;
  }

  // The job's recent runs as the server listed them, with the run shown in its live state
  // (first when it is newer than the list).
  function withRunShown(job) {
    const runs = (job.recent_runs || []).slice();
    const run = state.run;
    if (!run || run.job_id !== job.id) return runs;
    const live = { id: run.id, status: run.status, finished: isFinished(run), href: run.href, cause: run.cause,
      created_at: run.created_at, duration_seconds: run.duration_seconds };
    const at = runs.findIndex((r) => r.id === run.id);
    if (at >= 0) runs[at] = live;
    else if (!runs.length || runs[0].id < run.id) runs.unshift(live);
    return runs;
  }

  function renderRecent(job) {
    const section = $("recent-section");
    if (!job) {
      show(section, false);
      return;
    }
    show(section, true);
    $("recent-job").textContent = "· " + jobName(job);
    const runs = withRunShown(job);
    const body = $("recent-runs").tBodies[0];
    body.replaceChildren(...runs.map((r) => {
      const link = webLink(r.href)
        ? el("a", { href: r.href, target: "_blank", rel: "noopener noreferrer", text: "#" + r.id })
        : "#" + r.id;
      const tr = el("tr", { "data-run-id": r.id },
        el("td", { class: "num" }, link),
        el("td", {}, badge(r.status)),
        el("td", { class: "cause", title: r.cause || "", text: causeText(r.cause) }),
        el("td", { class: "num", title: r.created_at || "", text: fmtTime(r.created_at) }),
        el("td", { class: "num", text: r.finished ? fmtDuration(r.duration_seconds) : "" }));
      if (state.run && state.run.id === r.id) tr.setAttribute("aria-current", "true");
      return tr;
    }));
    show($("recent-runs"), runs.length > 0);
    show($("recent-empty"), runs.length === 0);
  }

  // ---- triggering -------------------------------------------------------------------------

  async function onTrigger(ev) {
    ev.preventDefault();
    if (state.triggering) return;
    const box = $("trigger-error");
    clearError(box);
    const sel = selection();
    if (!sel) {
      showError(box, { message: "Pick a job to run." });
      $("job").focus();
      return;
    }
    const body = sel.target ? { target: sel.target.name } : { job_id: sel.jobId };
    const cause = $("cause").value.trim();
    if (cause) body.cause = cause;
    const branch = $("git-branch").value.trim();
    if (branch) body.git_branch = branch;
    const sha = $("git-sha").value.trim();
    if (sha) body.git_sha = sha;
    const busy = runInProgress(sel);
    if (busy && !window.confirm("Run #" + busy.id + " of this job is still " + String(busy.status).toLowerCase() +
      ".\n\nTrigger another run anyway?")) return;
    if (sel.target && sel.target.confirm) {
      if (!askConfirmation(sel)) return;
      body.confirmed = true;
    }
    await sendTrigger(body, sel);
  }

  function askConfirmation(sel) {
    const name = sel.target ? "target " + sel.target.name + " (job " + sel.jobId + ")" : "job " + sel.jobId;
    return window.confirm("Run " + name + " in dbt Cloud?\n\nIt is marked confirm: true in datachonk.yaml.");
  }

  async function sendTrigger(body, sel) {
    const button = $("trigger");
    state.triggering = true;
    button.disabled = true;
    button.textContent = "Triggering…";
    try {
      const answer = await api("POST", "/trigger-run", body);
      showRun(answer.run, answer.adopted);
      revealRun();
    } catch (err) {
      const code = err.envelope && err.envelope.code;
      if (err.status === 409 && code === "confirmation_required" && !body.confirmed && askConfirmation(sel)) {
        state.triggering = false;
        return sendTrigger(Object.assign({}, body, { confirmed: true }), sel);
      }
      showError($("trigger-error"), err);
      if (code === "not_connected") loadStatus();
    } finally {
      state.triggering = false;
      button.textContent = "Trigger Run";
      button.disabled = !selection();
    }
  }

  // ---- one run, live ----------------------------------------------------------------------

  function showRun(run, adopted) {
    stopWatching();
    state.run = run;
    history.replaceState(null, "", "#run=" + run.id);
    clearError($("run-error"));
    renderRun(run);
    const message = $("run-message");
    if (adopted) {
      message.textContent = "This run had already been triggered by an earlier attempt of the same request: " +
        "datachonk adopted it instead of starting a second one.";
      show(message, true);
    } else {
      show(message, false);
    }
    if (!run.finished) watch(run.id);
    else onVerdict();
  }

  // On a phone the run panel is first (style.css), far above the button just pressed: bring
  // it into view.
  function revealRun() {
    if (window.matchMedia("(max-width: 560px)").matches) $("run-section").scrollIntoView({ block: "start" });
  }

  function showRunSection(visible) {
    show($("run-section"), visible);
    // On a phone the run comes first once there is one (style.css orders it).
    if (visible) document.body.dataset.run = "shown";
    else delete document.body.dataset.run;
  }

  function watch(runId) {
    const source = new EventSource(API + "/runs/" + encodeURIComponent(runId) + "/events");
    state.source = source;
    const mine = () => state.source === source && state.run && state.run.id === runId;
    const parse = (ev) => {
      try {
        return JSON.parse(ev.data);
      } catch (_) {
        return null;
      }
    };
    source.addEventListener("status", (ev) => {
      const run = parse(ev);
      if (run && mine()) {
        state.run = run;
        renderRun(run);
      }
    });
    source.addEventListener("step", (ev) => {
      const step = parse(ev);
      if (step && mine()) upsertStep(step);
    });
    source.addEventListener("verdict", (ev) => {
      const run = parse(ev);
      source.close(); // the server ends the stream here: no reconnect
      if (!mine()) return;
      state.source = null;
      if (run) {
        state.run = run;
        renderRun(run);
      }
      onVerdict();
    });
    source.addEventListener("error", (ev) => {
      if (!mine()) {
        source.close();
        return;
      }
      // The server's `event: error` carries an envelope (it could not follow the run) and ends
      // the stream; a dropped connection carries nothing and EventSource reconnects by itself
      // (the first event is the current state again) unless it was refused.
      const envelope = ev.data ? parse(ev) : null;
      if (envelope) {
        source.close();
        showError($("trigger-error"), new ApiError(0, envelope.error || envelope));
      }
      if (source.readyState === EventSource.CLOSED) {
        state.source = null;
        pollUntilFinished(runId);
      }
    });
  }

  // Without the stream (refused, or the server could not follow the run), ask for the run
  // every two seconds; a 4xx answer (the run is gone, not connected) ends the polling.
  function pollUntilFinished(runId) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(async () => {
      if (!state.run || state.run.id !== runId) return;
      try {
        const run = await api("GET", "/runs/" + encodeURIComponent(runId));
        if (!state.run || state.run.id !== runId) return;
        clearError($("trigger-error"));
        state.run = run;
        renderRun(run);
        if (run.finished) {
          onVerdict();
          return;
        }
      } catch (err) {
        showError($("trigger-error"), err);
        if (err.status >= 400 && err.status < 500 && err.status !== 429) return;
      }
      pollUntilFinished(runId);
    }, 2000);
  }

  function stopWatching() {
    if (state.source) state.source.close();
    state.source = null;
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    stopTicking();
  }

  function renderRun(run) {
    showRunSection(true);
    $("run-id").textContent = "#" + run.id;
    const status = $("run-status");
    status.textContent = run.status;
    status.className = "badge " + statusClass(run.status);
    status.dataset.status = run.status;

    const link = $("run-link");
    if (webLink(run.href)) {
      link.href = run.href;
      link.textContent = (run.href_text || "Open the run") + " ↗";
      show(link, true);
    } else {
      show(link, false);
    }

    const meta = [];
    const job = jobById(run.job_id);
    if (run.job_id !== null && run.job_id !== undefined) meta.push("job " + run.job_id + (job ? " · " + jobName(job) : ""));
    if (run.cause) meta.push("cause: " + causeText(run.cause));
    if (run.git_branch || run.git_sha) {
      meta.push("git " + [run.git_branch, run.git_sha && String(run.git_sha).slice(0, 10)].filter(Boolean).join(" @ "));
    }
    if (run.created_at) meta.push("triggered " + fmtTime(run.created_at));
    $("run-meta").textContent = meta.join(" · ");

    $("steps").replaceChildren(...(run.steps || []).map(stepItem));

    const finished = isFinished(run);
    renderTimer(run);
    const verdict = $("verdict");
    if (!finished) {
      for (const id of ["verdict", "failing-section", "skipped-section", "log-section", "retry-actions"]) show($(id), false);
      startTicking();
      refreshSelection();
      return;
    }
    stopTicking();
    refreshSelection();
    let text = run.status === "Success" ? "✓ Success" : run.status === "Error" ? "✗ Error" : run.status;
    if (run.summary) text += " — " + run.summary;
    let stepOf = null;
    if (run.failing_step) {
      text += " · failed at step " + run.failing_step.index + ": ";
      stepOf = stepName(run.failing_step.name);
    } else if (run.status_message && run.status !== "Success") text += " · " + run.status_message;
    verdict.replaceChildren(text, stepOf || "");
    verdict.className = "verdict " + statusClass(run.status);
    verdict.dataset.status = run.status;
    show(verdict, true);

    const nodes = run.failing_nodes || [];
    $("failing-nodes").replaceChildren(...nodes.map((n) => el("li", { "data-unique-id": n.unique_id },
      el("div", {}, el("span", { class: "node mono", text: n.unique_id }),
        n.status ? el("span", { class: "node-status badge s-error", text: n.status }) : null),
      n.message ? el("pre", { text: n.message }) : null)));
    show($("failing-section"), nodes.length > 0);

    const skipped = run.status === "Error" ? run.skipped_nodes || [] : [];
    $("skipped-nodes").replaceChildren(...skipped.map((id) => el("li", { class: "mono", text: id })));
    $("skipped-count").textContent = "(" + skipped.length + ")";
    show($("skipped-section"), skipped.length > 0);

    const tail = run.status === "Error" ? run.log_tail || [] : [];
    $("log-tail").textContent = tail.join("\n");
    $("log-title").textContent = "Log tail" + (run.failing_step ? " of step " + run.failing_step.index : "") +
      " (" + tail.length + " line" + (tail.length === 1 ? "" : "s") + ")";
    show($("log-section"), tail.length > 0);

    show($("retry-actions"), run.status === "Error");
    $("retry").disabled = state.retrying;
  }

  // The picker's note and Recent runs follow the run shown as it changes.
  function refreshSelection() {
    if (!$("trigger-section").hidden && state.jobs.length) {
      renderBusy();
      renderRecent((selection() || {}).job || null);
    }
  }

  // ---- live timers ------------------------------------------------------------------------

  function elapsedSince(text) {
    const d = parseTime(text);
    return d ? Math.max(0, (Date.now() - d.getTime()) / 1000) : null;
  }

  // Whole seconds while counting: "7 s", "1 min 05 s".
  function fmtClock(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    const rest = String(s % 60).padStart(2, "0");
    if (m < 60) return m + " min " + rest + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }

  // The run's time since it was triggered: counting while it goes, its duration once done.
  function renderTimer(run) {
    const timer = $("run-timer");
    let seconds = null;
    if (isFinished(run)) seconds = run.duration_seconds;
    else seconds = elapsedSince(run.created_at);
    if (seconds === null || seconds === undefined) {
      show(timer, false);
      return;
    }
    timer.textContent = isFinished(run) ? fmtDuration(seconds) : fmtClock(seconds);
    timer.dataset.seconds = String(Math.floor(seconds));
    timer.dataset.live = isFinished(run) ? "false" : "true";
    show(timer, true);
  }

  function tick() {
    if (!state.run || isFinished(state.run)) {
      stopTicking();
      return;
    }
    renderTimer(state.run);
    for (const li of $("steps").children) {
      if (li.dataset.status !== "Running" || !li.dataset.startedAt) continue;
      const seconds = elapsedSince(li.dataset.startedAt);
      const dur = li.querySelector(".dur");
      if (seconds !== null && dur) {
        dur.textContent = fmtClock(seconds);
        dur.dataset.seconds = String(Math.floor(seconds));
      }
    }
  }

  function startTicking() {
    if (state.tickTimer === null) state.tickTimer = setInterval(tick, 1000);
    tick();
  }

  function stopTicking() {
    clearInterval(state.tickTimer);
    state.tickTimer = null;
  }

  // ---- retry ------------------------------------------------------------------------------

  async function onRetry() {
    const failed = state.run;
    if (!failed || state.retrying) return;
    const box = $("run-error");
    clearError(box);
    const button = $("retry");
    state.retrying = true;
    button.disabled = true;
    button.textContent = "Retrying…";
    try {
      let answer;
      try {
        answer = await api("POST", "/runs/" + encodeURIComponent(failed.id) + "/retry", {});
      } catch (err) {
        const code = err.envelope && err.envelope.code;
        if (err.status !== 409 || code !== "confirmation_required") throw err;
        if (!window.confirm("Retry run #" + failed.id + " in dbt Cloud?\n\n" + err.envelope.message)) return;
        answer = await api("POST", "/runs/" + encodeURIComponent(failed.id) + "/retry", { confirmed: true });
      }
      showRun(answer.run, answer.adopted);
      revealRun();
      const message = $("run-message");
      message.textContent = "Retry of run #" + failed.id +
        (answer.plan && answer.plan.description ? ": " + answer.plan.description : "") + ".";
      show(message, true);
    } catch (err) {
      showError(box, err);
      if (err.envelope && err.envelope.code === "not_connected") loadStatus();
    } finally {
      state.retrying = false;
      button.disabled = false;
      button.textContent = "Retry";
    }
  }

  function stepItem(step) {
    let duration = fmtDuration(step.duration_seconds);
    const running = step.status === "Running";
    const since = running ? elapsedSince(step.started_at) : null;
    if (since !== null) duration = fmtClock(since);
    if (!duration) duration = running ? "running…" : step.status === "Queued" ? "waiting" : "";
    return el("li", { "data-index": step.index, "data-status": step.status, "data-started-at": step.started_at },
      el("span", { class: "idx", text: step.index + "." }),
      stepName(step.name),
      badge(step.status, "small"),
      el("span", { class: "dur", text: duration, "data-seconds": since === null ? null : String(Math.floor(since)) }));
  }

  // dbt Cloud names steps "Invoke dbt with `dbt build`": the quoted command as code, no
  // backticks (text nodes only).
  function stepName(name) {
    const parts = String(name || "").split("`");
    const node = el("span", { class: "name" });
    if (parts.length % 2 === 0) {
      node.textContent = parts.join(""); // an unpaired backtick: plain text without it
      return node;
    }
    parts.forEach((part, i) => {
      if (part) node.append(i % 2 ? el("code", { text: part }) : document.createTextNode(part));
    });
    return node;
  }

  function upsertStep(step) {
    const list = $("steps");
    const item = stepItem(step);
    const existing = list.querySelector('li[data-index="' + Number(step.index) + '"]');
    if (existing) {
      existing.replaceWith(item);
    } else {
      const after = Array.from(list.children).find((li) => Number(li.dataset.index) > step.index);
      list.insertBefore(item, after || null);
    }
    if (state.run) {
      tick();
      const steps = (state.run.steps || []).filter((s) => s.index !== step.index);
      steps.push(step);
      steps.sort((a, b) => a.index - b.index);
      state.run.steps = steps;
    }
  }

  // After a verdict, the job's recent runs include this one: ask for them again.
  function onVerdict() {
    return refreshJobs();
  }

  async function refreshJobs() {
    if (state.projectId === null) return;
    const projectId = state.projectId;
    try {
      const answer = await api("GET", "/projects/" + encodeURIComponent(projectId) + "/jobs");
      if (state.projectId !== projectId) return;
      state.jobs = answer.jobs || [];
      renderJobs();
    } catch (_) {
      // The run is shown; a stale list of recent runs is not worth an error.
    }
  }

  // ---- wiring -----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("connect-form").addEventListener("submit", onConnect);
    $("trigger-form").addEventListener("submit", onTrigger);
    $("project").addEventListener("change", (ev) => loadJobs(Number(ev.target.value)));
    $("job").addEventListener("change", renderSelection);
    $("retry").addEventListener("click", onRetry);
    for (const id of ["git-branch", "git-sha"]) {
      $(id).addEventListener("input", (ev) => { ev.target.dataset.edited = "true"; });
    }
    loadStatus();
  });
})();
