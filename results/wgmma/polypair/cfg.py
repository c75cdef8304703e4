import json,sys,copy
# usage: cfg.py OUT headDim dtype key=value...  (pv fields)
out, hd, dt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
extra = {}
for kv in sys.argv[4:]:
    k,v = kv.split('='); extra[k] = int(v) if v.isdigit() else v
d = json.load(open('autotune/tuned/h100-sm90a-wgmma.json'))
for t in d['targets']:
    t['entries'] = [e for e in t['entries'] if e['headDim']==hd and (dt=='all' or e['dtype']==dt)]
    for e in t['entries']:
        pv = e['winner']['spec']['pv']
        # the packed-half pairs need tensor row sums: entries with FADD row sums ("alu") stay as they are
        if extra.get('polyExp2Form') == 'f16x2' and pv.get('rowSums', 'alu') == 'alu': continue
        pv.update(extra)
        e['winner'].pop('name', None)
json.dump(d, open(out,'w'), indent=1)
print(sum(len(t['entries']) for t in d['targets']), 'entries')
