"""Built-in demonstrations: the exactly solvable synthetic minimum (:mod:`.demo`) and the paper's Eq. (20)
minibatch toy model (:mod:`.toy`)."""
