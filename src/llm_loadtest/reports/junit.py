"""JUnit XML: one test case per threshold plus one for generator health, so CI shows gates natively."""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, tostring

from llm_loadtest.metrics.result import RunResult


def render(result: RunResult) -> str:
    suite = Element("testsuite", name=f"llm_loadtest.{result.scenario}", time=f"{result.elapsed_seconds:.3f}")
    failures = errors = skipped = 0
    for threshold in result.thresholds:
        case = SubElement(suite, "testcase", classname=f"thresholds.{result.scenario}", name=threshold.source)
        if not threshold.passed:
            failures += 1
            SubElement(case, "failure", message="threshold failed").text = "\n".join(threshold.details)
    health = SubElement(suite, "testcase", classname=f"generator.{result.scenario}", name="generator health")
    if result.health is not None and not result.health.healthy:
        # Inconclusive is neither pass nor fail: JUnit's closest honest state is "skipped" with the reason.
        skipped += 1
        SubElement(health, "skipped", message="inconclusive: " + "; ".join(result.health.problems))
    for message in result.harness_errors:
        errors += 1
        case = SubElement(suite, "testcase", classname=f"harness.{result.scenario}", name="harness")
        SubElement(case, "error", message=message)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(suite, encoding="unicode") + "\n"
