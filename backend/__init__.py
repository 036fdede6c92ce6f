"""Xiangzhi domain core: models, services and jobs shared by both front ends."""
