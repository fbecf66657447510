// Graft never lets puppeteer download a browser: the test runner resolves one explicitly
// (GRAFT_CHROME / PUPPETEER_EXECUTABLE_PATH, a system Chrome/Chromium, then @sparticuz/chromium).
module.exports = { skipDownload: true };
