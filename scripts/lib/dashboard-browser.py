#!/usr/bin/env python3
"""Drives a real headless Chromium through the SwiftBatch dashboard, as a person would.

Opens the executions page during a run, then the running execution's page; checks that its
progress updates in place (no reload); clicks Stop; waits until the page shows the execution
STOPPED. Takes screenshots of the main pages (desktop and phone widths) on the way.

A minimal Chrome DevTools Protocol client over a hand-written WebSocket (standard library
only): no package to install, nothing fetched.

usage: dashboard-browser.py --base http://127.0.0.1:PORT --auth 'Basic ...' --execution ID
                   --partitioned ID --shots DIR [--chromium chromium]
Prints one JSON line with what it saw; exits non-zero on a failed check.
"""
import argparse, base64, json, os, re, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request


class WebSocket:
    def __init__(self, url):
        match = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))

    def send(self, text):
        payload = text.encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 65536:
            header.append(0x80 | 126)
            header += struct.pack(">H", len(payload))
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exact(self, count):
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise RuntimeError("websocket closed")
            data += chunk
        return bytes(data)

    def receive(self):
        message = bytearray()
        while True:
            first, second = self._exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(length)
            opcode = first & 0x0F
            if opcode == 0x9:  # ping: answer, keep reading
                continue
            message += payload
            if first & 0x80:
                return message.decode()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)
            if message.get("method") == "Page.javascriptDialogOpening":
                self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": True}}))

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except RuntimeError:
                pass  # the page is navigating
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def open(self, url):
        self.call("Page.navigate", url=url)
        time.sleep(0.2)
        self.wait_for("document.readyState === 'complete'", 20, f"{url} to load")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--auth", required=True)
    parser.add_argument("--execution", required=True)
    parser.add_argument("--partitioned", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="swiftbatch-chromium-")
    browser = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = {}
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = browser.stderr.readline()
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if match:
                port = int(match.group(1))
        if port is None:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(t for t in targets if t["type"] == "page")
        page = Page(WebSocket(target["webSocketDebuggerUrl"]))
        page.call("Page.enable")
        page.call("Network.enable")
        page.call("Network.setExtraHTTPHeaders", headers={"Authorization": args.auth})
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

        base, execution = args.base.rstrip("/"), args.execution
        page.open(f"{base}/executions")
        seen["executions_lists_run"] = page.evaluate(
            f"!!document.querySelector('#running a[href=\"/executions/{execution}\"]')")
        page.screenshot(os.path.join(args.shots, "executions.png"))

        page.open(f"{base}/executions/{args.partitioned}/partitions?step=transform")
        seen["partition_chart"] = page.evaluate("!!document.querySelector('svg.chart rect.bar')")
        page.screenshot(os.path.join(args.shots, "partitions.png"))
        page.open(f"{base}/workers")
        page.screenshot(os.path.join(args.shots, "workers.png"))
        page.open(f"{base}/jobs")
        page.screenshot(os.path.join(args.shots, "jobs.png"))

        page.open(f"{base}/executions/{execution}")
        page.evaluate("window.__sameDocument = true")
        read = lambda: page.evaluate(
            "(() => { const d = [...document.querySelectorAll('#progress .grid div')].find(e => e.firstChild.textContent === 'Read');"
            " return d ? d.lastChild.textContent : null })()")
        first = read()
        page.wait_for(f"(() => {{ const d = [...document.querySelectorAll('#progress .grid div')]"
                      f".find(e => e.firstChild.textContent === 'Read'); return d && d.lastChild.textContent !== {json.dumps(first)} }})()",
                      15, "the progress to update in place")
        seen["live_update_without_reload"] = page.evaluate("window.__sameDocument === true")
        seen["read_before"], seen["read_after"] = first, read()
        page.screenshot(os.path.join(args.shots, "execution-running.png"))

        page.evaluate("document.querySelector('form[action$=\"/stop\"] button').click()")
        page.wait_for("document.readyState === 'complete' && document.body.innerText.includes('is STOPPING')", 20,
                      "the notice that the execution is STOPPING")
        seen["stopping_notice"] = True
        page.wait_for("!!document.querySelector('h1 .badge.s-stopped')", 45, "the page to show the execution STOPPED")
        seen["shown_stopped"] = True
        page.screenshot(os.path.join(args.shots, "execution-stopped.png"))

        page.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
        page.open(f"{base}/executions")
        seen["phone_no_horizontal_page_scroll"] = page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.screenshot(os.path.join(args.shots, "executions-phone.png"))
        page.open(f"{base}/executions/{execution}")
        page.screenshot(os.path.join(args.shots, "execution-phone.png"))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(seen))
    failed = [name for name, value in seen.items() if value is False]
    if failed:
        print("failed checks: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
