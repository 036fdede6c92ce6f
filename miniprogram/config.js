// The one setting of the shell: where Xiangzhi is served. It must be an HTTPS address listed both as a
// "request 合法域名" and as a "业务域名" (web-view) of the mini program (see README). For WeChat DevTools
// against `make run` on this computer, use http://127.0.0.1:5000 and untick 不校验合法域名 in DevTools.
module.exports = {
  SERVER: "https://xiangzhi.example.gov.cn",
};
