"""The local stack: Kafka (KRaft), Redis with AOF and, optionally, HDFS, run as real processes.

Everything lives under ``STATE_DIR/stack``: configuration, data, logs and pid files. A service is
ours only if its pid file names a live process with the start time recorded at launch, so
``down`` never touches a process this project did not start.
"""
