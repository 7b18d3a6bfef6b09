// End-to-end test of the demo compose page in headless Chromium, keyboard
// only. Run by tests/browser.rs:  node e2e.mjs URL SCREENSHOT_PATH
// Exits 0 when every check passes; otherwise prints what failed, exits 1.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node e2e.mjs URL SCREENSHOT_PATH");
  process.exit(2);
}

const executablePath = process.env.PORTAL_TRIAGE_CHROMIUM || "/usr/bin/chromium";
const ROUTINE_TITLE = "Your care team will answer within 1-3 business days";
const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  // The page must not reach anything but the service.
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url.replace(/\/$/, ""))) foreign.push(r.url());
  });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  await page.goto(url);

  // Keyboard only: Tab to the message box.
  let tabs = 0;
  while ((await page.evaluate(() => document.activeElement && document.activeElement.id)) !== "message") {
    if (++tabs > 10) throw new Error("Tab never reached the message box");
    await page.keyboard.press("Tab");
  }
  check(tabs >= 1, `the message box is reached with Tab (${tabs} presses)`);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== "none", `the focused box shows a focus outline (${outline})`);
  const fontSize = await page.evaluate(() => parseFloat(getComputedStyle(document.getElementById("message")).fontSize));
  check(fontSize >= 18, `the message text is at least 18px (${fontSize}px)`);

  async function typeMessage(text) {
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Backspace");
    await page.keyboard.type(text, { delay: 15 });
  }
  // Wait for the answer about exactly this text (the preview shows the
  // text that was checked), not a leftover from the previous message.
  async function waitForTitle(title, text) {
    await page.waitForFunction(
      ([t, typed]) => {
        const el = document.getElementById("route-title");
        return (
          !document.getElementById("result").hidden &&
          el.textContent === t &&
          document.getElementById("preview").textContent === typed
        );
      },
      [title, text],
      { timeout: 10000 },
    );
  }
  const state = () =>
    page.evaluate(() => ({
      title: document.getElementById("route-title").textContent,
      advice: document.getElementById("advice").textContent,
      alert: document.getElementById("alert").textContent,
      alertRole: document.getElementById("alert").getAttribute("role"),
      alertLive: document.getElementById("alert").getAttribute("aria-live"),
      marks: [...document.querySelectorAll("#preview mark")].map((m) => m.textContent),
      words: [...document.querySelectorAll("#words mark")].map((m) => m.textContent),
      crisis: !document.getElementById("crisis").hidden,
      status: document.getElementById("status-text").textContent,
    }));

  // 1. An emergency, in the patient's own words.
  const emergency = "my chest is crushing and my left arm is numb";
  await typeMessage(emergency);
  await waitForTitle("Call 911 now", emergency);
  let s = await state();
  check(s.title === "Call 911 now", `emergency: route says "${s.title}"`);
  check(s.advice.includes("Call 911 now"), "emergency: the advice says to call 911 now");
  check(s.alertRole === "alert" && s.alertLive === "assertive", "the banner is an assertive live region (role=alert)");
  check(s.alert.includes("This sounds like an emergency. Call 911 now."), `emergency: the live region holds the warning ("${s.alert.slice(0, 60)}...")`);
  check(s.marks.includes("chest is crushing"), `emergency: "chest is crushing" is highlighted (${JSON.stringify(s.marks)})`);
  check(s.marks.includes("left arm is numb"), "emergency: \"left arm is numb\" is highlighted");
  check(!s.crisis, "emergency without self-harm: no 988 box");
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`screenshot: ${screenshot}`);

  // 2. A routine request: no banner, the 1-3 business days answer.
  const routine = "could you refill my lisinopril";
  await typeMessage(routine);
  await waitForTitle(ROUTINE_TITLE, routine);
  s = await state();
  check(s.title === ROUTINE_TITLE, `routine: route says "${s.title}"`);
  check(s.alert === "", "routine: the emergency banner is gone");
  check(s.marks.length === 0, "routine: nothing highlighted");
  check(s.status.includes("routine"), "routine: the status says so");

  // 2b. Needs a call today, and the banner stays down.
  const today = "I passed out yesterday after standing up, I feel fine now";
  await typeMessage(today);
  await waitForTitle("We will call you today", today);
  s = await state();
  check(s.title === "We will call you today", `needs-call: route says "${s.title}"`);
  check(s.alert === "", "needs-call: no emergency banner");
  check(s.advice.includes("call you today"), "needs-call: the advice says we will call today");

  // 3. Non-ASCII before a finding: the marks cover exactly the words.
  const accented = "Café 😀 was fine, then my chest is crushing";
  await typeMessage(accented);
  await waitForTitle("Call 911 now", accented);
  s = await state();
  check(
    s.marks.length > 0 && s.marks.every((m) => s.words.includes(m)) && s.marks.includes("chest is crushing"),
    `non-ASCII text: highlights match the words (${JSON.stringify(s.marks)})`,
  );

  // 4. Self-harm: 988 is named, in the banner too.
  const harm = "I want to end my life";
  await typeMessage(harm);
  await waitForTitle("Call 911 now", harm);
  s = await state();
  check(s.crisis, "self-harm: the 988 box is shown");
  check(s.alert.includes("988"), "self-harm: the banner names 988");

  // 4b. The subject counts: an emergency in the subject line, "see
  // subject" in the box. Shift+Tab to the subject, type, Tab back.
  const subjectLine = "Chest pain and I cannot breathe";
  const seeSubject = "see subject";
  await page.keyboard.press("Shift+Tab");
  const onSubject = await page.evaluate(() => document.activeElement && document.activeElement.id);
  check(onSubject === "subject", `Shift+Tab from the message reaches the subject (${onSubject})`);
  await typeMessage(subjectLine);
  await page.keyboard.press("Tab");
  await typeMessage(seeSubject);
  await waitForTitle("Call 911 now", seeSubject);
  s = await state();
  check(s.title === "Call 911 now", `subject emergency: route says "${s.title}"`);
  check(s.alert.includes("This sounds like an emergency. Call 911 now."), "subject emergency: the call-911 banner is shown");
  const subjectPreview = await page.evaluate(() => ({
    hidden: document.getElementById("preview-subject").hidden,
    text: document.getElementById("preview-subject").textContent,
    marks: [...document.querySelectorAll("#preview-subject mark")].map((m) => m.textContent),
  }));
  check(!subjectPreview.hidden && subjectPreview.text === subjectLine, "subject emergency: the subject is shown above the text");
  check(
    subjectPreview.marks.some((m) => /chest pain/i.test(m)) && subjectPreview.marks.some((m) => /cannot breathe/i.test(m)),
    `subject emergency: the words are marked in the subject (${JSON.stringify(subjectPreview.marks)})`,
  );
  check(s.marks.length === 0, `subject emergency: nothing is marked in "see subject" (${JSON.stringify(s.marks)})`);
  await page.screenshot({ path: screenshot.replace(/\.png$/, "") + "-subject.png", fullPage: false });
  // Clear the subject again; back to the message box.
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Tab");
  await waitForTitle(ROUTINE_TITLE, seeSubject);
  s = await state();
  check(s.alert === "", "without the subject, \"see subject\" is routine again");

  // 5. The service fails: say so plainly, and still say 911.
  await page.route("**/v1/triage", (route) => route.abort());
  await typeMessage("my knee has been sore for a week");
  await page.waitForFunction(() => document.getElementById("status").classList.contains("failed"), null, {
    timeout: 10000,
  });
  s = await state();
  check(s.status.includes("could not check") && s.status.includes("call 911"), `service down: "${s.status}"`);
  await page.unroute("**/v1/triage");

  // 6. Send works from the keyboard (Tab to the button, Enter).
  await page.keyboard.press("Tab");
  const onSend = await page.evaluate(() => document.activeElement && document.activeElement.id);
  check(onSend === "send", "Tab moves from the message to the Send button");
  await page.keyboard.press("Enter");
  const sent = await page.evaluate(() => document.getElementById("send-result").textContent);
  check(sent.includes("demo"), `Enter on Send answers ("${sent}")`);

  check(foreign.length === 0, `no request leaves the service (${JSON.stringify(foreign)})`);
  check(pageErrors.length === 0, `no script errors (${JSON.stringify(pageErrors)})`);
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
  console.error(e);
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`${failures.length} browser checks failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("all browser checks passed");
