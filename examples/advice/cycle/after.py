"""Help-centre indexer: parses each article into an element tree whose elements point back to
their parent, measures how deeply its links are nested, and drops the tree before the next one.

before.py: finding `cycle` on the line storing the parent in Element.__init__: every dropped
tree is a reference cycle (parent.children <-> child.parent) that only the cyclic garbage
collector frees, and the job has turned the collector off (as batch jobs do to save its
pauses), so every dead tree stays until the process ends. after.py: a weak reference to the
parent at that line, called where the parent is read: each tree is freed as it is dropped.
"""

import gc
import random
import weakref

TAGS = ("section", "div", "p", "ul", "li", "a", "span", "em", "a", "a")
PARAGRAPHS = (
    "Open Settings, then the section named above, and follow the steps shown there. "
    "Changes are saved as soon as you leave the page, and everyone in your workspace sees them "
    "the next time they reload; nothing needs to be restarted.",
    "If the section is missing, ask your administrator to enable it; it can take up to an hour "
    "to appear for everyone. Until then the old layout stays in place and nothing you have "
    "already set up is lost.",
    "The options in this section apply to accounts created before this step, including the "
    "ones imported from the old system. Those accounts keep their settings unless you change "
    "them by hand or run the migration again.",
    "This step takes effect after you sign out and back in; the section explains why the "
    "session has to be renewed and what to do when a shared device keeps the old session "
    "open for longer than it should.",
)


class Document:
    def __init__(self, title):
        self.title = title
        self.children = []


class Element:
    # __weakref__: index builders elsewhere keep weak references to elements.
    __slots__ = ("__weakref__", "children", "parent", "tag", "text")

    def __init__(self, tag, text, parent):
        self.tag = tag
        self.text = text
        self.parent = weakref.ref(parent)
        self.children = []
        parent.children.append(self)

    def depth(self):
        depth = 0
        node = self
        while isinstance(node, Element):
            depth += 1
            node = node.parent()
        return depth


def parse_article(number, elements):
    """The element tree of one article, as the markup parser builds it tag by tag."""
    rng = random.Random(number)
    document = Document(f"article {number}")
    open_elements = [document]
    for step in range(1, elements + 1):
        while len(open_elements) > 12 or (len(open_elements) > 1 and rng.random() < 0.3):
            open_elements.pop()  # a closing tag
        draw = rng.getrandbits(32)
        text = f"Step {step} (section {number}.{draw >> 16 & 127}): {PARAGRAPHS[draw >> 8 & 3]}"
        element = Element(TAGS[draw % len(TAGS)], text, open_elements[-1])
        open_elements.append(element)
    return document


def link_depths(document):
    depths = []
    pending = list(document.children)
    while pending:
        element = pending.pop()
        if element.tag == "a":
            depths.append(element.depth())
        pending.extend(element.children)
    return depths


def index_article(number):
    document = parse_article(number, 50_000)
    depths = link_depths(document)
    return len(depths), max(depths)


def main():
    gc.disable()  # a batch job: it turned the cyclic collector off to save its pauses
    links = 0
    deepest = 0
    for number in range(5):
        count, depth = index_article(number)
        links += count
        deepest = max(deepest, depth)
    print(f"5 articles, {links} links, deepest link at level {deepest}")


if __name__ == "__main__":
    main()
