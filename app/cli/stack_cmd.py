"""`viewcount stack up|down|status [--hdfs] [--spark] [SERVICE ...]`."""

from devtools.stack.manager import ALL, CLUSTER, CORE, SPARK, Stack, cluster_settings, hdfs_services


def register(commands) -> None:
    stack = commands.add_parser("stack", help="start, stop or check the local services")
    actions = stack.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("up", "start the services (idempotent) and wait until they are healthy"),
                         ("down", "stop the services this stack started"),
                         ("status", "show each service, its state and address")):
        cmd = actions.add_parser(action, help=text, description=text)
        cmd.add_argument("--hdfs", action="store_true",
                         help="include the HDFS NameNode and DataNode (and their KDC, unless HDFS_AUTH=simple)")
        cmd.add_argument("--cluster", action="store_true",
                         help="3 Kafka brokers (topics of 3 replicas) and a Redis Cluster of 6 nodes (3 masters, "
                              "3 replicas) in place of the one broker and the one Redis; `up` prints the settings "
                              "that point at them")
        cmd.add_argument("--spark", action="store_true",
                         help="include a Spark standalone master and worker (batch run with "
                              "VIEWCOUNT_SPARK_MASTER=spark://127.0.0.1:SPARK_PORT_BASE)")
        cmd.add_argument("services", nargs="*", choices=[[], *ALL], metavar="SERVICE",
                         help=f"only these ({', '.join(ALL)}); default: kafka and redis, "
                              "plus HDFS with --hdfs and Spark with --spark (down and status: all)")
        cmd.set_defaults(run=run)


def _chosen(args, settings) -> tuple[str, ...]:
    """The services named, else kafka and redis (the Redis Cluster's nodes for --cluster), with HDFS
    for --hdfs and Spark for --spark."""
    if args.services:
        return tuple(n for n in ALL if n in args.services)
    return (CLUSTER if args.cluster else CORE) + (hdfs_services(settings) if args.hdfs else ()) + (
        SPARK if args.spark else ())


def _names(args, settings) -> tuple[str, ...]:
    if args.action == "up" or args.services:
        return _chosen(args, settings)
    if args.action == "status":    # the KDC only where HDFS runs Kerberized
        return (CLUSTER if args.cluster else CORE) + hdfs_services(settings) + SPARK
    return ALL                     # down: whatever of ours is running


def run(args, settings) -> int:
    stack = Stack(settings)
    names = _names(args, settings)
    if args.action == "up":
        stack.up(names)
        if set(CLUSTER) <= set(names):
            print("\nthe cluster's settings:")
            for name, value in cluster_settings(settings).items():
                print(f"export VIEWCOUNT_{name.upper()}={value}")
        return 0
    if args.action == "down":
        stack.down(names)
        return 0
    rows = stack.status(names)
    print(f"{'SERVICE':12} {'STATE':9} {'PID':>7}  ADDRESS")
    for row in rows:
        state = "healthy" if row.healthy else ("starting" if row.running else "stopped")
        print(f"{row.name:12} {state:9} {row.pid or '-':>7}  {row.address}")
    requested = _chosen(args, settings)
    return 0 if all(r.healthy for r in rows if r.name in requested) else 3
