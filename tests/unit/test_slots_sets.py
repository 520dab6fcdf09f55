"""The `slots` finding's "instances have N different attribute sets" note: a census that runs
inside one instance's __init__ (at a line between two assignments) sees that instance with some
of the attributes only. Truth: the sets written out."""

from memslim.advice.slots import distinct_attribute_sets


def test_the_instance_caught_inside_its_init_is_not_a_set() -> None:
    found = [(("x", "y"), 299_999), (("x",), 1)]
    assert distinct_attribute_sets(found) == [("x", "y")]


def test_sets_that_several_instances_have_stay() -> None:
    found = [(("x", "y"), 1_000), (("x",), 2), (("x", "z"), 1)]
    assert distinct_attribute_sets(found) == [("x", "y"), ("x",), ("x", "z")]
