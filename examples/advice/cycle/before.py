"""Help-centre indexer: parses each article into an element tree whose elements point back to
their parent, measures how deeply its links are nested, and drops the tree before the next one.

before.py: finding `cycle` on the line storing the parent in Element.__init__: every dropped
tree is a reference cycle (parent.children <-> child.parent) that only the cyclic garbage
collector frees, so several dead trees pile up at the peak. after.py: a weak reference to the
parent at that line, called where the parent is read.
"""

import random

TAGS = ("section", "div", "p", "ul", "li", "a", "span", "em", "a", "a")
SENTENCES = (
    "Step {step}: open Settings, then section {section}, and follow the steps shown there. "
    "Changes are saved as soon as you leave the page.",
    "If section {section} is missing, ask your administrator to enable it (step {step}); "
    "it can take up to an hour to appear for everyone.",
    "See section {section} for the options that apply to accounts created before step {step}, "
    "including the ones imported from the old system.",
    "Step {step} takes effect after you sign out and back in; section {section} explains why "
    "the session has to be renewed.",
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
        self.parent = parent
        self.children = []
        parent.children.append(self)

    def depth(self):
        depth = 0
        node = self
        while isinstance(node, Element):
            depth += 1
            node = node.parent
        return depth


def parse_article(number, elements):
    """The element tree of one article, as the markup parser builds it tag by tag."""
    rng = random.Random(number)
    document = Document(f"article {number}")
    open_elements = [document]
    for _ in range(elements):
        while len(open_elements) > 12 or (len(open_elements) > 1 and rng.random() < 0.3):
            open_elements.pop()  # a closing tag
        sentence = rng.choice(SENTENCES)
        text = sentence.format(step=len(open_elements), section=rng.randrange(1, 400))
        element = Element(rng.choice(TAGS), text, open_elements[-1])
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
    document = parse_article(number, 60_000)
    depths = link_depths(document)
    return len(depths), max(depths)


def main():
    links = 0
    deepest = 0
    for number in range(6):
        count, depth = index_article(number)
        links += count
        deepest = max(deepest, depth)
    print(f"6 articles, {links} links, deepest link at level {deepest}")


if __name__ == "__main__":
    main()
