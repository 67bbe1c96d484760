DROP TABLE google_channels;
