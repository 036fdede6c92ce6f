// Runs the shell's sign-in (pages/index/signin.js) in Node with a stand-in for the `wx` object that
// speaks real HTTP to a Xiangzhi server: `node signin_cli.js <server> <wx.login code>` prints the URL the
// <web-view> would open, or the error the page would show.
const { openUrl } = require("../pages/index/signin.js");

const [server, code] = process.argv.slice(2);
const requests = [];
const wx = {
  login: ({ success }) => success({ code }),
  request: ({ url, method, data, header, success, fail }) => {
    requests.push({ url, method, header });
    fetch(url, {
      method,
      headers: { "Content-Type": "application/json", ...header },
      body: data === undefined ? undefined : JSON.stringify(data),
    })
      .then(async (res) => success({ statusCode: res.status, data: await res.json() }))
      .catch(fail);
  },
};

openUrl(wx, server).then(
  (url) => console.log(JSON.stringify({ url, requests })),
  (error) => console.log(JSON.stringify({ error: error.message, requests })),
);
