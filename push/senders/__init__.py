"""One sender per channel: WeChat subscribe messages, Alipay template messages, APP push, inbox."""
