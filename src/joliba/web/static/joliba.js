// Page behaviour lives in small functions here (no inline scripts: the CSP forbids them).
