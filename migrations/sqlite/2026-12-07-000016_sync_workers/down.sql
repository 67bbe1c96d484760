DROP TABLE sync_workers;
