"""Activity behaviour: ``trigger`` starts jobs, ``legs`` runs leg 1 and leg 2 of the others."""
