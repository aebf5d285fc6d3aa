"""Bulk email sending core: SQS records in, SES v2 SendBulkEmail calls out."""
