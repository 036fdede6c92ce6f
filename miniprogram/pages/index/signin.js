// Sign in with WeChat and open the H5 app with a one-time ticket. The long-lived token stays in this
// function: only the ticket (single use, valid for a minute) is ever put in a URL.
const API = "/api/mp/v1";

function request(wx, server, path, { method = "POST", data, token } = {}) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: server + API + path,
      method,
      data,
      header: token ? { Authorization: "Bearer " + token } : {},
      success: (res) =>
        res.statusCode >= 200 && res.statusCode < 300
          ? resolve(res.data)
          : reject(new Error((res.data && res.data.message) || "服务暂时不可用，请稍后再试")),
      fail: () => reject(new Error("网络不通，请检查网络后点“重新打开”")),
    });
  });
}

function wxLogin(wx) {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res.code ? resolve(res.code) : reject(new Error("微信登录失败，请重新打开"))),
      fail: () => reject(new Error("微信登录失败，请重新打开")),
    });
  });
}

async function openUrl(wx, server) {
  const code = await wxLogin(wx);
  const session = await request(wx, server, "/auth/login", { data: { code } });
  const { ticket } = await request(wx, server, "/auth/tickets", { token: session.token });
  return server + "/m/?ticket=" + encodeURIComponent(ticket);
}

module.exports = { openUrl };
