"""kazoo's four-letter-word command against the node under test: the answers
parse the way monitoring scripts parse ZooKeeper's."""

from conftest import make_client


def monitor(zk):
    lines = zk.command(b"mntr").splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


def test_ruok_and_srvr(zk):
    assert zk.command(b"ruok") == "imok"
    srvr = zk.command(b"srvr")
    assert srvr.startswith("Zookeeper version: ")
    fields = dict(line.split(": ", 1) for line in srvr.splitlines() if ": " in line)
    assert fields["Mode"] == "standalone"
    assert int(fields["Node count"]) >= 5


def test_mntr_counts_follow_the_tree(zk, root, hosts):
    before = monitor(zk)
    assert before["zk_server_state"] == "standalone"
    zk.create(f"{root}/p", b"x")
    other = make_client(hosts)
    try:
        other.create(f"{root}/e", b"", ephemeral=True)
        after = monitor(zk)
        assert int(after["zk_znode_count"]) == int(before["zk_znode_count"]) + 2
        assert int(after["zk_ephemerals_count"]) == int(before["zk_ephemerals_count"]) + 1
        assert int(after["zk_packets_received"]) > int(before["zk_packets_received"])
    finally:
        other.stop()
        other.close()


def test_wchs_counts_a_new_watch(zk, root):
    def total(text):
        return int(text.splitlines()[1].split(":", 1)[1])

    before = total(zk.command(b"wchs"))
    zk.get(f"{root}", watch=lambda event: None)
    assert total(zk.command(b"wchs")) == before + 1
