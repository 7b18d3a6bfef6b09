// The "before you send" check: as the patient types (debounced), ask the
// local service how urgent the message sounds and say it in plain words
// beside the box. No framework, no build step, no external network; the
// message text is only ever put into the page as text (never as HTML).
"use strict";

(function () {
  const DEBOUNCE_MS = 400;

  const ROUTE_TITLES = {
    "call-911": "Call 911 now",
    "needs-call": "We will call you today",
    "non-urgent": "Your care team will answer within 1-3 business days",
  };

  const subject = document.getElementById("subject");
  const message = document.getElementById("message");
  const form = document.getElementById("compose");
  const alertBox = document.getElementById("alert");
  const checking = document.getElementById("checking");
  const status = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const result = document.getElementById("result");
  const routeTitle = document.getElementById("route-title");
  const advice = document.getElementById("advice");
  const crisis = document.getElementById("crisis");
  const wordsBox = document.getElementById("words-box");
  const words = document.getElementById("words");
  const preview = document.getElementById("preview");
  const previewSubject = document.getElementById("preview-subject");
  const sendResult = document.getElementById("send-result");

  const IDLE_TEXT = statusText.textContent;
  let timer = null;
  let inFlight = null;
  let seq = 0;
  let lastRoute = null;
  let lastAlert = "";

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // `quiet`: the result below says the same thing on screen, so the
  // status line is kept for screen readers only.
  function setStatus(text, failed, quiet) {
    // Only touch the live region when the words change, so a screen reader
    // is not told the same thing after every pause in typing.
    if (statusText.textContent !== text) statusText.textContent = text;
    status.classList.toggle("failed", Boolean(failed));
    status.classList.toggle("visually-hidden", Boolean(quiet));
  }

  // The emergency banner lives in a role=alert region: changing its content
  // makes screen readers announce it at once.
  function setAlert(lines) {
    const key = lines.join("\n");
    if (key === lastAlert) return;
    lastAlert = key;
    alertBox.replaceChildren();
    if (lines.length === 0) return;
    alertBox.append(el("p", lines[0], "banner-title"));
    for (const line of lines.slice(1)) alertBox.append(el("p", line));
  }

  function selfHarm(decision) {
    return (
      decision.advice.includes("988") ||
      decision.findings.some((f) => f.rule.startsWith("mental-health."))
    );
  }

  function reset() {
    seq += 1;
    if (inFlight) inFlight.abort();
    inFlight = null;
    checking.hidden = true;
    lastRoute = null;
    setAlert([]);
    setStatus(IDLE_TEXT, false);
    result.hidden = true;
  }

  // One field (subject or text) with each of its findings marked. Spans
  // come as UTF-16 offsets (start_utf16/end_utf16) counted from the start
  // of the field the finding is in (`field`), the units JavaScript strings
  // count, so text such as "café" or an emoji before a finding marks the
  // right words.
  function renderPreview(box, field, text, findings) {
    box.replaceChildren();
    const spans = findings
      .filter((f) => (f.field || "text") === field)
      .map((f) => [f.start_utf16, f.end_utf16])
      .filter(([s, e]) => Number.isInteger(s) && Number.isInteger(e) && s < e && e <= text.length)
      .sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let at = 0;
    for (const [s, e] of spans) {
      if (s < at) continue; // overlaps a span already marked
      if (s > at) box.append(document.createTextNode(text.slice(at, s)));
      box.append(el("mark", text.slice(s, e)));
      at = e;
    }
    if (at < text.length) box.append(document.createTextNode(text.slice(at)));
  }

  function show(subjectText, text, decision) {
    const route = decision.route;
    const title = ROUTE_TITLES[route] || ROUTE_TITLES["non-urgent"];
    const harm = selfHarm(decision);

    if (route === "call-911") {
      const lines = [
        "This sounds like an emergency. Call 911 now.",
        "Do not send this message and wait for a reply. If you cannot call, ask someone near you to call 911.",
      ];
      if (harm) lines.push("You can also call or text 988 (Suicide and Crisis Lifeline), any time.");
      setAlert(lines);
    } else {
      setAlert([]);
    }

    routeTitle.textContent = title;
    routeTitle.className = "route-title route-" + route;
    advice.textContent = decision.advice;
    crisis.hidden = !harm;

    // One line per phrase (a phrase can count for two concepts: name the
    // first, the most severe).
    const seen = new Set();
    words.replaceChildren();
    for (const f of decision.findings) {
      const key = f.text.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const li = el("li");
      li.append(el("mark", f.text), document.createTextNode(" (" + f.concept + ")"));
      words.append(li);
    }
    wordsBox.hidden = decision.findings.length === 0;
    renderPreview(previewSubject, "subject", subjectText, decision.findings);
    previewSubject.hidden = subjectText.trim() === "";
    renderPreview(preview, "text", text, decision.findings);
    result.hidden = false;

    if (route !== lastRoute) {
      lastRoute = route;
      setStatus(
        route === "call-911"
          ? "Your message sounds like an emergency. Call 911 now."
          : route === "needs-call"
            ? "Your message needs a call today: we will call you today."
            : "Your message sounds routine: your care team will answer within 1-3 business days.",
        false,
        true,
      );
    }
  }

  function failed() {
    lastRoute = null;
    result.hidden = true;
    setAlert([]);
    setStatus(
      "We could not check your message just now. If this is an emergency, call 911.",
      true,
    );
  }

  // The subject and the text are checked together: "Chest pain and I
  // cannot breathe" in the subject is an emergency whatever the text says.
  async function check() {
    const subjectText = subject.value;
    const text = message.value;
    if (text.trim() === "" && subjectText.trim() === "") {
      reset();
      return;
    }
    const mine = ++seq;
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    checking.hidden = false;
    try {
      const response = await fetch("/v1/triage", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ subject: subjectText, text: text }),
        signal: controller.signal,
      });
      if (!response.ok) throw new Error("status " + response.status);
      const decision = await response.json();
      if (mine !== seq) return; // a newer check is on its way
      show(subjectText, text, decision);
    } catch (err) {
      if (mine !== seq || (err && err.name === "AbortError")) return;
      failed();
    } finally {
      if (mine === seq) {
        checking.hidden = true;
        inFlight = null;
      }
    }
  }

  function changed() {
    sendResult.textContent = "";
    clearTimeout(timer);
    timer = setTimeout(check, DEBOUNCE_MS);
  }
  subject.addEventListener("input", changed);
  message.addEventListener("input", changed);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    sendResult.textContent =
      lastRoute === "call-911"
        ? "Not sent: this is a demo. If this is an emergency, call 911 now."
        : "This is a demo: nothing was sent.";
  });

  // A message restored by the browser (back button) is checked at once.
  if (message.value.trim() !== "" || subject.value.trim() !== "") check();
})();
