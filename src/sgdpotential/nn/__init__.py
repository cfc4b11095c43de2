"""The network measurement layer: data (:mod:`.data`), models and parameter subsets (:mod:`.models`), the loss
on a flat parameter vector in eval mode (:mod:`.objective`), and the probes at a point along given directions
(:mod:`.probes`). Nothing here steps weights or writes files."""
