const { SERVER } = require("../../config.js");
const { openUrl } = require("./signin.js");

Page({
  data: { url: "", message: "正在登录…", failed: false },

  onLoad() {
    this.start();
  },

  // A fresh ticket each time the page opens: a ticket works once, within a minute.
  start() {
    this.setData({ url: "", message: "正在登录…", failed: false });
    openUrl(wx, SERVER).then(
      (url) => this.setData({ url }),
      (error) => this.setData({ message: error.message, failed: true }),
    );
  },
});
