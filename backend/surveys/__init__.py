"""Masses' satisfaction surveys (群众满意度测评): templates, sampling, anonymous responses, results, alerts."""
