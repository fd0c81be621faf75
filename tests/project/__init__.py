"""Tests of the repository as a whole: the layers of its imports, and its documentation true to the code."""
