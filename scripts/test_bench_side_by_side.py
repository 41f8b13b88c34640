"""Unit tests of scripts/bench-side-by-side's pure logic: run order, medians, ratios,
table rendering and parsing, on canned `herald bench --json` records.

Run: python3 -m unittest scripts/test_bench_side_by_side.py (from the repository root).
"""

import importlib.machinery
import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def load_script():
    loader = importlib.machinery.SourceFileLoader("bench_side_by_side", os.path.join(HERE, "bench-side-by-side"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


sbs = load_script()


def result(ops, p50, p99, gap=0.0):
    return {"workload": "create", "connections": 1, "window": 1, "value_bytes": 100, "duration_secs": 10.0,
            "operations": int(ops * 10), "errors": 0, "ops_per_sec": ops, "p50_ms": p50, "p99_ms": p99,
            "p999_ms": p99, "max_ms": p99, "max_gap_ms": gap}


def record(row, system, round_index, ops, p50, p99):
    return {"row": row, "system": system, "round": round_index, "status": "ok", "result": result(ops, p50, p99), "error": ""}


CREATE = sbs.Shape("create", "create", 64, 1)
LOCK = sbs.Shape("lock contended", "rest-lock", 16, 1, ("--locks", "1"), sbs.LOCK_SYSTEMS)


class ScheduleTest(unittest.TestCase):
    def test_systems_take_turns_round_after_round(self):
        order = [(shape.key, round_index, system) for shape, round_index, system in sbs.schedule([CREATE, LOCK], 2)]
        self.assertEqual(
            order,
            [
                ("create 64x1", 0, "herald"), ("create 64x1", 0, "zookeeper"),
                ("create 64x1", 1, "herald"), ("create 64x1", 1, "zookeeper"),
                ("lock contended 16x1", 0, "herald"), ("lock contended 16x1", 0, "zookeeper"),
                ("lock contended 16x1", 0, "etcd"),
                ("lock contended 16x1", 1, "herald"), ("lock contended 16x1", 1, "zookeeper"),
                ("lock contended 16x1", 1, "etcd"),
            ],
        )

    def test_every_shape_runs_on_every_system_of_it_once_per_round(self):
        plan = sbs.schedule(sbs.FULL_SHAPES, 3)
        expected = sum(len(shape.systems) for shape in sbs.FULL_SHAPES) * 3
        self.assertEqual(len(plan), expected)
        self.assertEqual(len(set((s.key, r, system) for s, r, system in plan)), expected)

    def test_a_selection_keeps_table_order_and_refuses_unknown_keys(self):
        picked = sbs.select_shapes(sbs.FULL_SHAPES, ["lock uncontended 16x1", "create 64x1"])
        self.assertEqual([shape.key for shape in picked], ["create 64x1", "lock uncontended 16x1"])
        with self.assertRaises(sbs.BenchError) as raised:
            sbs.select_shapes(sbs.FULL_SHAPES, ["create 65x1"])
        self.assertIn("create 65x1", str(raised.exception))

    def test_herald_members_share_the_cpus_with_at_least_one_thread_each(self):
        self.assertEqual(sbs.member_worker_threads(2), 1)
        self.assertEqual(sbs.member_worker_threads(8), 2)
        self.assertEqual(sbs.member_worker_threads(1), 1)

    def test_locks_use_etcds_own_lock_api(self):
        self.assertEqual(LOCK.workload_for("etcd"), "etcd-lock")
        self.assertEqual(LOCK.workload_for("herald"), "rest-lock")
        self.assertEqual(CREATE.workload_for("zookeeper"), "create")

    def test_the_smoke_budget_covers_every_workload_and_system(self):
        workloads = {shape.workload for shape in sbs.SMOKE_SHAPES}
        self.assertEqual(workloads, {"create", "set-data", "get-data", "mixed", "rest-lock"})
        systems = {system for shape in sbs.SMOKE_SHAPES for system in shape.systems}
        self.assertEqual(systems, set(sbs.SYSTEMS))


class SummaryTest(unittest.TestCase):
    def test_medians_are_per_row_and_system_and_per_field(self):
        records = [
            record("create 64x1", "herald", 0, 900.0, 1.0, 9.0),
            record("create 64x1", "zookeeper", 0, 400.0, 2.0, 30.0),
            record("create 64x1", "herald", 1, 1200.0, 3.0, 5.0),
            record("create 64x1", "zookeeper", 1, 600.0, 4.0, 10.0),
            record("create 64x1", "herald", 2, 1000.0, 2.0, 7.0),
            record("create 64x1", "zookeeper", 2, 500.0, 1.0, 20.0),
        ]
        summary = sbs.summarize(records)
        self.assertEqual(summary[("create 64x1", "herald")],
                         {"status": "ok", "runs": 3, "ops_per_sec": 1000.0, "p50_ms": 2.0, "p99_ms": 7.0})
        self.assertEqual(summary[("create 64x1", "zookeeper")]["ops_per_sec"], 500.0)
        self.assertEqual(summary[("create 64x1", "zookeeper")]["p99_ms"], 20.0)

    def test_an_even_count_takes_the_mean_of_the_middle_two(self):
        records = [record("r", "herald", i, ops, 1.0, 1.0) for i, ops in enumerate([100.0, 400.0, 200.0, 300.0])]
        self.assertEqual(sbs.summarize(records)[("r", "herald")]["ops_per_sec"], 250.0)

    def test_failed_runs_are_left_out_and_marked(self):
        failed = {"row": "r", "system": "herald", "round": 1, "status": "failed", "result": None, "error": "boom"}
        summary = sbs.summarize([record("r", "herald", 0, 100.0, 1.0, 1.0), failed])
        self.assertEqual(summary[("r", "herald")]["status"], "partial")
        self.assertEqual(summary[("r", "herald")]["ops_per_sec"], 100.0)
        only_failed = sbs.summarize([failed])
        self.assertEqual(only_failed[("r", "herald")], {"status": "failed", "runs": 0})
        unsupported = dict(failed, status="unsupported")
        self.assertEqual(sbs.summarize([unsupported])[("r", "herald")]["status"], "unsupported")


class TableTest(unittest.TestCase):
    def test_ratios(self):
        self.assertEqual(sbs.ratio(2500.0, 1000.0), "2.50x")
        self.assertEqual(sbs.ratio(1.0, 3.0), "0.33x")
        self.assertEqual(sbs.ratio(None, 1000.0), "-")
        self.assertEqual(sbs.ratio(1000.0, 0.0), "-")

    def test_the_table_holds_medians_and_ratios(self):
        records = [
            record(CREATE.key, "herald", 0, 14000.0, 3.2, 12.5),
            record(CREATE.key, "zookeeper", 0, 7000.0, 5.1, 62.0),
            record(LOCK.key, "herald", 0, 3000.0, 4.0, 9.0),
            record(LOCK.key, "zookeeper", 0, 1500.0, 8.0, 20.0),
            record(LOCK.key, "etcd", 0, 1000.0, 12.0, 30.0),
        ]
        lines = sbs.throughput_table([CREATE, LOCK], sbs.summarize(records)).splitlines()
        self.assertEqual(len(lines), 4)
        self.assertIn("Herald/ZooKeeper ops", lines[0])
        create_cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
        self.assertEqual(create_cells[:8], ["create", "64 x 1", "14,000", "3.20", "12.5", "7,000", "5.10", "62.0"])
        self.assertEqual(create_cells[-2:], ["2.00x", ""])
        lock_cells = [cell.strip() for cell in lines[3].strip("|").split("|")]
        self.assertEqual(lock_cells[-2:], ["2.00x", "3.00x"])
        self.assertEqual(lock_cells[8:11], ["1,000", "12.0", "30.0"])

    def test_a_missing_system_is_named_not_hidden(self):
        failed = {"row": CREATE.key, "system": "zookeeper", "round": 0, "status": "failed", "result": None, "error": "x"}
        records = [record(CREATE.key, "herald", 0, 100.0, 1.0, 1.0), failed]
        row = sbs.throughput_table([CREATE], sbs.summarize(records)).splitlines()[2]
        self.assertIn("failed", row)
        self.assertTrue(row.rstrip().endswith("| - |  |"))

    def test_memory_and_failover_tables(self):
        memory = {"herald": {"idle_kb": [10240, 11264, 12288], "loaded_kb": [20480, 20480, 21504]},
                  "etcd": {"idle_kb": [30720, 30720, 30720]}}
        text = sbs.memory_table(memory, 100_000)
        self.assertIn("| Herald | 10 / 11 / 12 | 20 / 20 / 21 |", text)
        self.assertIn("| etcd | 30 / 30 / 30 | not loaded |", text)
        self.assertIn("100,000 znodes", text)
        def run(gap, rejoin):
            return {"max_gap_ms": gap, "error": "", "rejoin_secs": rejoin}

        failover = sbs.failover_table({
            "herald": [run(120.0, 1.5), run(80.5, 2.0), run(95.25, None)],
            "zookeeper": [run(None, 3.0)],
        })
        self.assertIn(
            f"| Herald | 3 | 95.2 | 120, 80.5, 95.2 | 1.5, 2.0, not within {sbs.REJOIN_DEADLINE_SECS} |", failover
        )
        self.assertIn("| ZooKeeper | 1 | failed | failed | 3.0 |", failover)


class ParsingTest(unittest.TestCase):
    def test_the_json_summary_is_the_last_json_line(self):
        stdout = "warming up\n" + '{"workload":"create","ops_per_sec":12.5,"p50_ms":1,"p99_ms":2}\n'
        status, parsed, error = sbs.parse_bench_output(0, stdout, "")
        self.assertEqual((status, parsed["ops_per_sec"], error), ("ok", 12.5, ""))

    def test_failures_and_unsupported_workloads(self):
        self.assertEqual(sbs.parse_bench_output(0, "no json here", "")[0], "failed")
        self.assertEqual(sbs.parse_bench_output(1, "", "connection refused")[:2], ("failed", None))
        unsupported = "Error: workload rest-lock is not available in this build"
        self.assertEqual(sbs.parse_bench_output(1, "", unsupported)[0], "unsupported")

    def test_the_error_is_found_after_the_clients_log_lines(self):
        stderr = ("\x1b[32m INFO\x1b[0m zookeeper_client::session: new session established\n"
                  "Error: set-data\n\nCaused by:\n    connection loss\n")
        status, _, error = sbs.parse_bench_output(1, "", stderr)
        self.assertEqual(status, "failed")
        self.assertEqual(error, "Error: set-data\n\nCaused by:\n    connection loss")
        self.assertEqual(sbs.error_message("INFO a\nherald bench: 3 errors; the first: x\n"),
                         "herald bench: 3 errors; the first: x")

    def test_vmrss_and_mode(self):
        status = "Name:\tjava\nVmPeak:\t 9000 kB\nVmRSS:\t   81234 kB\nThreads:\t40\n"
        self.assertEqual(sbs.vmrss_kb(status), 81234)
        with self.assertRaises(sbs.BenchError):
            sbs.vmrss_kb("Name:\tzombie\n")
        self.assertEqual(sbs.mode_of("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0/0\nMode: leader\n"), "leader")
        self.assertIsNone(sbs.mode_of("This ZooKeeper instance is not currently serving requests\n"))


if __name__ == "__main__":
    unittest.main()
