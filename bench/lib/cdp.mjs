// Headless Chromium driven over raw CDP, for the browser benches. Not Playwright: it enables the Network domain on every page,
// and Chromium then copies each WebSocket frame (base64) to the client as Network.webSocketFrame* events, seconds of CPU
// in the browser process and the bench per run on a 2-core machine, which no user's browser spends. Here only Page (frame
// lifecycle, for the load event), Emulation, Input and, when asked, Profiler are enabled.
import { spawn } from 'node:child_process';

// Playwright's own switches for headless Chromium (playwright-core 1.65 chromiumSwitches + headless), so pages run as they did
// under Playwright: no timer throttling, no renderer backgrounding, no IPC flood protection.
const PLAYWRIGHT_SWITCHES = [
  '--disable-field-trial-config',
  '--disable-background-networking',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-back-forward-cache',
  '--disable-breakpad',
  '--disable-component-extensions-with-background-pages',
  '--disable-component-update',
  '--no-default-browser-check',
  '--disable-default-apps',
  '--disable-dev-shm-usage',
  '--disable-extensions',
  '--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,AvoidCorsURLLoaderRestartOnRedirect,OptimizationHints,NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch',
  '--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies',
  '--allow-pre-commit-input',
  '--disable-hang-monitor',
  '--disable-ipc-flooding-protection',
  '--disable-popup-blocking',
  '--disable-prompt-on-repost',
  '--disable-renderer-backgrounding',
  '--force-color-profile=srgb',
  '--metrics-recording-only',
  '--no-first-run',
  '--password-store=basic',
  '--use-mock-keychain',
  '--no-service-autorun',
  '--disable-search-engine-choice-screen',
  '--enable-unsafe-swiftshader',
  '--disable-stack-profiler',
  '--disable-infobars',
  '--disable-sync',
  '--headless',
  '--hide-scrollbars',
  '--mute-audio',
  '--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4',
  '--no-sandbox',
];

// What Playwright's keyboard.press sends for the keys the benches press.
const KEYS = {
  Enter: { key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, text: '\r' },
  g: { key: 'g', code: 'KeyG', windowsVirtualKeyCode: 71, text: 'g' },
  x: { key: 'x', code: 'KeyX', windowsVirtualKeyCode: 88, text: 'x' },
};

/**
 * Starts `executable` headless with a fresh profile in `userDataDir`, spoken to over --remote-debugging-pipe (fds 3 and 4,
 * messages ended by NUL): Chromium exits when the pipe closes, so it cannot outlive the bench even if the bench is SIGKILLed.
 * `counts`, if given, is a Map that gets every CDP event method received and how many times.
 */
export async function launch({ executable = '/usr/bin/chromium', args = [], userDataDir, windowSize = [1800, 1100], counts } = {}) {
  const proc = spawn(
    executable,
    [
      ...PLAYWRIGHT_SWITCHES,
      ...args,
      `--window-size=${windowSize.join(',')}`,
      `--user-data-dir=${userDataDir}`,
      '--remote-debugging-pipe',
      '--no-startup-window',
    ],
    // Its own process group, so the zygote and renderers can be killed with it.
    { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const killAll = () => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {}
  };
  // Before anything else registered on exit: the bench removes the profile's directory there.
  process.prependListener('exit', killAll);
  // A signal would end the bench without 'exit', and Chromium is not in its process group: make signals go through 'exit'.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
  const [, , , toBrowser, fromBrowser] = proc.stdio;
  let lastId = 0;
  const calls = new Map();
  const listeners = new Set();
  let pending = [];
  fromBrowser.on('data', (chunk) => {
    let start = 0;
    for (let end = chunk.indexOf(0); end >= 0; start = end + 1, end = chunk.indexOf(0, start)) {
      pending.push(chunk.subarray(start, end));
      onMessage(Buffer.concat(pending).toString());
      pending = [];
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  });
  const onMessage = (text) => {
    const msg = JSON.parse(text);
    if (msg.id !== undefined) {
      const call = calls.get(msg.id);
      calls.delete(msg.id);
      if (msg.error) call?.reject(new Error(`${call.method}: ${msg.error.message}`));
      else call?.resolve(msg.result);
      return;
    }
    if (counts) counts.set(msg.method, (counts.get(msg.method) ?? 0) + 1);
    for (const l of listeners) l(msg);
  };
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  exited.then((code) => {
    for (const c of calls.values()) c.reject(new Error(`${c.method}: chromium exited (${code})`));
    calls.clear();
  });
  toBrowser.on('error', () => {});
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`${method}: chromium has exited`));
      const id = ++lastId;
      calls.set(id, { resolve, reject, method });
      toBrowser.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  /** The next event `method` of session `sessionId`. */
  const next = (method, sessionId) =>
    new Promise((resolve) => {
      const l = (msg) => {
        if (msg.method !== method || msg.sessionId !== sessionId) return;
        listeners.delete(l);
        resolve(msg.params);
      };
      listeners.add(l);
    });

  const { product } = await Promise.race([
    send('Browser.getVersion'),
    new Promise((_, reject) => proc.once('error', reject)),
    exited.then((code) => Promise.reject(new Error(`${executable} exited ${code} at start`))),
  ]);

  /** A page in a browser context of its own (like Playwright's newContext + newPage), `initScript` run before any of the page's. */
  async function newPage({ width, height, initScript }) {
    const { browserContextId } = await send('Target.createBrowserContext', { disposeOnDetach: true });
    const { targetId } = await send('Target.createTarget', { url: 'about:blank', browserContextId, width, height });
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
    const s = (method, params) => send(method, params, sessionId);
    await s('Page.enable');
    // Headless pages are never focused otherwise: xterm.js's textarea would not get the keys.
    await s('Emulation.setFocusEmulationEnabled', { enabled: true });
    // The window and the emulated viewport are sized together, as Playwright does in headless.
    const { windowId } = await send('Browser.getWindowForTarget', { targetId });
    let viewport = { width, height };
    const setViewport = async (size) => {
      viewport = size;
      await send('Browser.setWindowBounds', { windowId, bounds: size });
      await s('Emulation.setDeviceMetricsOverride', {
        ...size,
        mobile: false,
        screenWidth: size.width,
        screenHeight: size.height,
        deviceScaleFactor: 1,
        screenOrientation: { angle: 0, type: 'landscapePrimary' },
      });
    };
    await setViewport(viewport);
    if (initScript) await s('Page.addScriptToEvaluateOnNewDocument', { source: `(${initScript})()` });

    /** `fn(arg)` in the page; its promise awaited, its value returned as JSON. */
    const evaluate = async (fn, arg) => {
      const { result, exceptionDetails } = await s('Runtime.evaluate', {
        expression: `(${fn})(${arg === undefined ? '' : JSON.stringify(arg)})`,
        awaitPromise: true,
        returnByValue: true,
      });
      if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      return result.value;
    };
    return {
      send: s,
      evaluate,
      viewport: () => viewport,
      setViewport,
      async goto(url) {
        const loaded = next('Page.loadEventFired', sessionId);
        const r = await s('Page.navigate', { url });
        if (r.errorText) throw new Error(`${url}: ${r.errorText}`);
        await loaded;
      },
      /** Until `fn(arg)` is truthy, tried in the page every `polling` ms (as Playwright's waitForFunction with a polling interval). */
      async waitFor(fn, arg, { polling = 100, timeout = 30_000 } = {}) {
        const poll = `(a) => new Promise((resolve) => { const f = (${fn}); const t = () => (f(a) ? resolve(true) : setTimeout(t, ${polling})); t(); })`;
        let timer;
        try {
          await Promise.race([
            evaluate(poll, arg),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`waited ${timeout} ms for ${fn}`)), timeout))),
          ]);
        } finally {
          clearTimeout(timer);
        }
      },
      /** keyDown with its text, then keyUp, as Playwright's keyboard.press. */
      async press(name) {
        const k = KEYS[name];
        const at = { modifiers: 0, key: k.key, code: k.code, windowsVirtualKeyCode: k.windowsVirtualKeyCode, location: 0, isKeypad: false };
        await s('Input.dispatchKeyEvent', { type: 'keyDown', ...at, text: k.text, unmodifiedText: k.text, autoRepeat: false });
        await s('Input.dispatchKeyEvent', { type: 'keyUp', ...at });
      },
      close: () => send('Target.disposeBrowserContext', { browserContextId }),
    };
  }

  return {
    version: product.replace(/^[^/]*\//, ''),
    newPage,
    async close() {
      await send('Browser.close').catch(() => {});
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      killAll();
    },
  };
}
