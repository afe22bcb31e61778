/* SPDX-License-Identifier: MIT */
/*
 * timeline.html: one self-contained page (inline CSS, SVG and a little JS,
 * nothing fetched) with a lane per worker: poll slices coloured by task,
 * parked and preempted strips, hop and wake arrows, steal/abort/long-poll
 * marks, a legend. The SVG is complete without JS, laid out for the whole
 * trace; the script only re-positions elements (data-a/data-b hold ns) to
 * zoom and pan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export_model.h"
#include "trace_format.h"

/* More elements than this make a browser crawl; the rest are counted. */
#define MAX_POLLS 20000
#define MAX_FLOWS 20000
/* More arrows than this in view are a smear: hidden until zoomed in. */
#define DENSE_FLOWS 400
#define LEGEND_TASKS 16

/* SVG user units; the SVG scales to the page width. */
#define VB_W 1400
#define PX0 130 /* plot area */
#define PX1 1385
#define TOP 34
#define LANE_H 70
#define BAR_Y 12
#define BAR_H 32
#define STRIP_Y 50
#define STRIP_H 10
#define GAP_Y 62   /* arrows run along here, below the strip, */
#define GAP_ROWS 3 /* staggered over rows 3 apart so runs stay apart */

/* x for ns t at the initial (whole trace) view, in 1/100 units. */
static long long xc(const struct ust_x_model *m, uint64_t t)
{
	uint64_t span = m->span_ns ? m->span_ns : 1;
	/* 128 bits: t * width overflows 64 after about 40 hours */
	__extension__ typedef unsigned __int128 u128;
	u128 v = (u128)t * ((PX1 - PX0) * 100);

	return PX0 * 100 + (long long)(v / span);
}

/* Prints v/100 with two decimals. */
static void fx(FILE *f, long long v)
{
	if (v < 0) {
		fputc('-', f);
		v = -v;
	}
	fprintf(f, "%lld.%02lld", v / 100, v % 100);
}

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s < 0x20 ||
			    (unsigned char)*s >= 0x7f)
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* ust_x_human() with the micro sign as an HTML entity. */
static const char *hhuman(uint64_t ns, char buf[48])
{
	char t[32];
	size_t n = strlen(ust_x_human(ns, t));

	if (n >= 3 && !strcmp(t + n - 3, " us"))
		snprintf(buf, 48, "%.*s &#181;s", (int)(n - 3), t);
	else
		snprintf(buf, 48, "%s", t);
	return buf;
}

static int lane_y(uint32_t w)
{
	return TOP + (int)w * LANE_H;
}

/* clang-format off */
static const char css[] =
	"body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,"
	"Helvetica,Arial,sans-serif;margin:16px 20px;color:#1d232b;"
	"background:#fff}\n"
	"h1{font-size:17px;margin:0 0 2px}\n"
	".meta{color:#55606e;margin-bottom:8px}\n"
	".meta b{color:#1d232b;font-weight:600}\n"
	".bar{display:flex;gap:6px;align-items:center;margin:6px 0}\n"
	"button{font:inherit;padding:2px 10px;border:1px solid #b8c0cc;"
	"background:#f5f7fa;border-radius:4px;cursor:pointer}\n"
	"#view{color:#55606e;margin-left:10px}\n"
	"#tl{width:100%;height:auto;display:block;user-select:none;"
	"cursor:grab;border:1px solid #d5dbe3;border-radius:4px}\n"
	".legend svg{display:inline-block;vertical-align:middle}\n"
	"#tl text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
	"Helvetica,Arial,sans-serif}\n"
	".lane{fill:#f7f9fb}.lane.odd{fill:#eef2f6}\n"
	".lbl{font-size:14px;font-weight:600;fill:#1d232b}\n"
	".sub{font-size:10.5px;fill:#55606e}\n"
	".tick{stroke:#c8d0da;stroke-width:1}\n"
	".tl{font-size:11px;fill:#55606e}\n"
	".p{stroke:#fff;stroke-width:.4}.p.thin{stroke:none}\n"
	"#flows.dense path{display:none}\n"
	"#dense{color:#8592a3;margin-left:10px}\n"
	".p.long{stroke:#c00;stroke-width:2.2}\n"
	".park{fill:url(#hatch)}\n"
	".pre{fill:#e4572e}\n"
	".hop{fill:none;stroke:#1d232b;stroke-width:1.5;stroke-opacity:.8}\n"
	".wk{fill:none;stroke:#2a6fdb;stroke-width:1.4;"
	"stroke-dasharray:4 3}\n"
	"#tl.nohop .hop,#tl.nowk .wk{display:none}\n"
	"label{display:inline-flex;align-items:center;gap:3px;"
	"margin-left:8px}\n"
	".steal{fill:#7c3aed}.abort{stroke:#c00;stroke-width:2}\n"
	".lp{fill:#c00;font-size:13px;font-weight:700}\n"
	".legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin-top:10px;"
	"align-items:center}\n"
	".legend span{display:inline-flex;align-items:center;gap:5px}\n"
	".sw{width:14px;height:14px;border-radius:2px;display:inline-block}\n"
	".note{color:#8a5a00;margin-top:6px}\n";

/*
 * Zoom and pan. V is the visible [v0, v1] in ns; every element carries
 * its times (data-a, data-b, data-t) and is only moved, never rebuilt.
 */
static const char js1[] =
	"(function(){\n"
	"const svg=document.getElementById('tl');\n"
	"const X0=+svg.dataset.x0,X1=+svg.dataset.x1,SPAN=+svg.dataset.span;\n"
	"const H=+svg.dataset.h;\n"
	"let v0=0,v1=SPAN;\n"
	"const hv=/^#(\\d+)-(\\d+)$/.exec(location.hash);\n"
	"if(hv&&+hv[2]>+hv[1]){v0=Math.max(0,+hv[1]);"
	"v1=Math.min(SPAN,+hv[2]);}\n"
	"const rects=svg.querySelectorAll('rect[data-a]');\n"
	"const flows=document.getElementById('flows');\n"
	"const paths=flows.querySelectorAll('path[data-a]');\n"
	"const DENSE=+flows.dataset.dense;\n"
	"const marks=svg.querySelectorAll('g[data-t]');\n"
	"const axis=document.getElementById('axis');\n"
	"const NS=svg.namespaceURI;\n"
	"function X(t){return X0+(t-v0)*(X1-X0)/(v1-v0);}\n"
	"function route(a,b,ya,yb,g){\n"
	" const q=Math.min(6,(b-a)/2,Math.abs(g-ya),Math.abs(yb-g));\n"
	" const d1=g>ya?1:-1,d2=yb>g?1:-1;\n"
	" return 'M'+a+' '+ya+' L'+a+' '+(g-d1*q)+' Q'+a+' '+g+' '+(a+q)+' '+g+"
	"' L'+(b-q)+' '+g+' Q'+b+' '+g+' '+b+' '+(g+d2*q)+' L'+b+' '+yb;}\n"
	"function span(ns){const w=v1-v0,u=w>=1e9?[1e9,'s']:w>=1e6?"
	"[1e6,'ms']:w>=1e3?[1e3,'\\u00b5s']:[1,'ns'];\n"
	" const d=Math.max(0,2-Math.floor(Math.log10(w/u[0])));\n"
	" return (ns/u[0]).toFixed(d)+' '+u[1];}\n"
	"function fmt(ns,step){\n"
	" const u=step>=1e9?[1e9,'s']:step>=1e6?[1e6,'ms']:step>=1e3?"
	"[1e3,'\\u00b5s']:[1,'ns'];\n"
	" const d=step/u[0]>=1?0:step/u[0]>=0.1?1:2;\n"
	" return (ns/u[0]).toFixed(d)+' '+u[1];}\n"
	"function ticks(){\n"
	" while(axis.firstChild)axis.removeChild(axis.firstChild);\n"
	" const raw=(v1-v0)/8,p=Math.pow(10,Math.floor(Math.log10(raw)));\n"
	" const step=[1,2,5,10].map(k=>k*p).find(s=>s>=raw);\n"
	" for(let t=Math.ceil(v0/step)*step;t<=v1;t+=step){\n"
	"  const x=X(t),l=document.createElementNS(NS,'line');\n"
	"  l.setAttribute('class','tick');l.setAttribute('x1',x);"
	"l.setAttribute('x2',x);\n"
	"  l.setAttribute('y1',22);l.setAttribute('y2',H);axis.appendChild(l);\n"
	"  const s=document.createElementNS(NS,'text');\n"
	"  s.setAttribute('class','tl');s.setAttribute('x',x);"
	"s.setAttribute('y',16);\n"
	"  s.setAttribute('text-anchor',x>X1-25?'end':'middle');"
	"s.textContent=fmt(t,step);\n"
	"  axis.appendChild(s);}}\n"
	;
/* split: ISO C promises string literals of 4095 bytes, no more */
static const char js2[] =
	"function draw(){\n"
	" for(const r of rects){const a=X(+r.dataset.a),b=X(+r.dataset.b);\n"
	"  const vis=b>=X0-50&&a<=X1+50;r.style.display=vis?'':'none';\n"
	"  if(!vis)continue;\n"
	"  r.setAttribute('x',a);r.setAttribute('width',Math.max(b-a,"
	"+(r.dataset.min||0.6)));\n"
	"  if(r.classList.contains('p'))r.classList.toggle('thin',b-a<3);}\n"
	" let nv=0;\n"
	" for(const p of paths){const a=X(+p.dataset.a),b=X(+p.dataset.b);\n"
	"  const vis=b>=X0&&a<=X1;p.style.display=vis?'':'none';\n"
	"  nv+=(a>=X0&&a<=X1)||(b>=X0&&b<=X1);\n"
	"  if(vis)p.setAttribute('d',route(a,b,+p.dataset.ya,+p.dataset.yb,"
	"+p.dataset.g));}\n"
	" const dense=nv>DENSE;flows.classList.toggle('dense',dense);\n"
	" document.getElementById('dense').textContent=dense?nv+' arrows in "
	"view: zoom in to see them':'';\n"
	" for(const g of marks){const x=X(+g.dataset.t);\n"
	"  g.style.display=x>=X0-5&&x<=X1+5?'':'none';\n"
	"  g.setAttribute('transform','translate('+x+' 0)');}\n"
	" ticks();\n"
	" try{history.replaceState(null,'',v0<=0&&v1>=SPAN?"
	"location.pathname:'#'+Math.round(v0)+'-'+Math.round(v1));}catch(e){}\n"
	" document.getElementById('view').textContent='showing '+"
	"span(v0)+' \\u2013 '+span(v1);}\n"
	"function zoom(f,at){const c=at===undefined?(v0+v1)/2:at;\n"
	" let w=Math.max((v1-v0)*f,100);if(w>SPAN){w=SPAN;}\n"
	" v0=c-(c-v0)*w/(v1-v0);v1=v0+w;clamp();draw();}\n"
	"function clamp(){const w=v1-v0;if(v0<0){v0=0;v1=w;}\n"
	" if(v1>SPAN){v1=SPAN;v0=SPAN-w;}}\n"
	"function tAt(ev){const r=svg.getBoundingClientRect();\n"
	" const x=(ev.clientX-r.left)*svg.viewBox.baseVal.width/r.width;\n"
	" return v0+(x-X0)*(v1-v0)/(X1-X0);}\n"
	"svg.addEventListener('wheel',ev=>{ev.preventDefault();\n"
	" zoom(ev.deltaY<0?0.8:1.25,tAt(ev));},{passive:false});\n"
	"let drag=null;\n"
	"svg.addEventListener('mousedown',ev=>{drag={x:tAt(ev)};"
	"svg.style.cursor='grabbing';});\n"
	"window.addEventListener('mouseup',()=>{drag=null;"
	"svg.style.cursor='';});\n"
	"svg.addEventListener('mousemove',ev=>{if(!drag)return;\n"
	" const d=drag.x-tAt(ev);v0+=d;v1+=d;clamp();draw();});\n"
	"document.getElementById('zin').onclick=()=>zoom(0.5);\n"
	"for(const [id,c] of [['showhop','nohop'],['showwk','nowk']]){\n"
	" const b=document.getElementById(id);\n"
	" b.onchange=()=>svg.classList.toggle(c,!b.checked);}\n"
	"document.getElementById('zout').onclick=()=>zoom(2);\n"
	"document.getElementById('fit').onclick=()=>{v0=0;v1=SPAN;draw();};\n"
	"draw();\n"
	"})();\n";
/* clang-format on */

static const char *why_hop(int32_t r)
{
	switch (r) {
	case URT_TRM_STOLEN:
		return "stolen";
	case URT_TRM_INJECT:
		return "from the global queue";
	case URT_TRM_WOKEN:
		return "woken onto it";
	}
	return "moved";
}

static void header(const struct ust_x_model *m, const struct ust_x_model *v,
		   FILE *f, size_t shown, size_t closed)
{
	uint64_t steals = 0;
	char b1[48];

	for (size_t i = 0; i < (size_t)m->nworkers * m->nworkers; i++)
		steals += m->steal[i];
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>urt timeline: ",
	      f);
	esc(f, m->hdr.comm[0] ? m->hdr.comm : "?");
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
	fputs("<h1>urt timeline &mdash; ", f);
	esc(f, m->hdr.comm[0] ? m->hdr.comm : "?");
	fprintf(f, " (pid %u)</h1>\n<div class=\"meta\">", m->hdr.pid);
	fprintf(f,
		"<b>%u</b> workers &middot; <b>%zu</b> polls &middot; "
		"<b>%llu</b> hops &middot; <b>%llu</b> tasks stolen &middot; "
		"<b>%llu</b> cross-worker wakes &middot; <b>%zu</b> events "
		"over <b>%s</b> &middot; <b>%llu</b> dropped</div>\n",
		m->nworkers, closed, (unsigned long long)m->hops_total,
		(unsigned long long)steals, (unsigned long long)m->wakes_cross,
		m->nev, hhuman(m->span_ns, b1),
		(unsigned long long)(m->drops_ev > m->hdr.drops
					 ? m->drops_ev
					 : m->hdr.drops));
	if (shown < closed)
		fprintf(f,
			"<div class=\"note\">Showing the first %zu of %zu "
			"polls (the first %s); trace.json has them all."
			"</div>\n",
			shown, closed, hhuman(v->span_ns, b1));
	fputs("<div class=\"bar\"><button id=\"zin\">zoom in</button>"
	      "<button id=\"zout\">zoom out</button>"
	      "<button id=\"fit\">fit</button>"
	      "<label><input type=\"checkbox\" id=\"showhop\" checked>"
	      "hop arrows</label><label><input type=\"checkbox\" "
	      "id=\"showwk\" checked>wake arrows</label>"
	      "<span id=\"view\"></span><span id=\"dense\"></span><span "
	      "id=\"hint\" style=\"margin-"
	      "left:auto;color:#8592a3\">wheel: zoom &middot; drag: pan "
	      "&middot; hover: details</span></div>\n",
	      f);
}

static void lanes(const struct ust_x_model *m, FILE *f)
{
	char b1[48];

	for (uint32_t w = 0; w < m->nworkers; w++) {
		const struct ust_x_worker *wk = &m->w[w];
		int y = lane_y(w);
		unsigned busy =
		    m->span_ns ? (unsigned)(wk->busy_ns * 100 / m->span_ns) : 0;

		fprintf(f,
			"<g class=\"worker\" data-worker=\"%u\">"
			"<rect class=\"lane%s\" x=\"0\" y=\"%d\" width=\"%d\" "
			"height=\"%d\"/>"
			"<text class=\"lbl\" x=\"10\" y=\"%d\">worker %u</text>"
			"<text class=\"sub\" x=\"10\" y=\"%d\">%u polls, %u%% "
			"busy</text><text class=\"sub\" x=\"10\" y=\"%d\">"
			"parked %s</text></g>\n",
			w, w % 2 ? " odd" : "", y, VB_W, LANE_H, y + 25, w,
			y + 43, wk->polls, busy, y + 58,
			hhuman(wk->parked_ns, b1));
	}
}

/* Draws up to MAX_POLLS polls; *limit: the first index not drawn. */
static void polls(const struct ust_x_model *m, FILE *f, size_t *limit)
{
	char b1[48], b2[48];
	size_t n = 0, i;

	fputs("<g id=\"polls\" clip-path=\"url(#plot)\">\n", f);
	for (i = 0; i < m->npolls && n < MAX_POLLS; i++) {
		const struct ust_x_poll *p = &m->polls[i];
		long long a, b;

		if (!p->closed)
			continue;
		n++;
		a = xc(m, p->b);
		b = xc(m, p->e);
		if (b - a < 60)
			b = a + 60;
		fprintf(f,
			"<rect class=\"p%s%s\" data-a=\"%llu\" "
			"data-b=\"%llu\" x=\"",
			p->longp ? " long" : "", b - a < 300 ? " thin" : "",
			(unsigned long long)p->b, (unsigned long long)p->e);
		fx(f, a);
		fputs("\" width=\"", f);
		fx(f, b - a);
		fprintf(f,
			"\" y=\"%d\" height=\"%d\" fill=\"hsl(%u,62%%,52%%)\">"
			"<title>task %llu on worker %u&#10;start %s &#181;s, "
			"%s, %s, queue %u%s</title></rect>\n",
			lane_y(p->worker) + BAR_Y, BAR_H,
			ust_x_task_hue(p->task), (unsigned long long)p->task,
			p->worker, ust_x_us(p->b, b1),
			hhuman(ust_x_recorded_ns(m, i), b2),
			p->ready ? "ready" : "pending", p->depth,
			p->longp ? ", LONG POLL" : "");
	}
	fputs("</g>\n", f);
	*limit = i;
}

static void spans(const struct ust_x_model *m, FILE *f)
{
	char b1[48];

	fputs("<g id=\"spans\" clip-path=\"url(#plot)\">\n", f);
	for (size_t i = 0; i < m->nspans; i++) {
		const struct ust_x_span *s = &m->spans[i];
		int park = s->kind == UST_X_PARKED;
		long long a = xc(m, s->b), b = xc(m, s->e);

		fprintf(f,
			"<rect class=\"%s\" data-a=\"%llu\" data-b=\"%llu\" "
			"data-min=\"0.8\" x=\"",
			park ? "park" : "pre", (unsigned long long)s->b,
			(unsigned long long)s->e);
		fx(f, a);
		fputs("\" width=\"", f);
		fx(f, b - a < 80 ? 80 : b - a);
		fprintf(f,
			"\" y=\"%d\" height=\"%d\"><title>worker %u %s for "
			"%s</title></rect>\n",
			lane_y(s->worker) + STRIP_Y, STRIP_H, s->worker,
			park ? "parked" : "preempted by the OS",
			hhuman(s->e - s->b, b1));
	}
	fputs("</g>\n", f);
}

static long long llabs_(long long v)
{
	return v < 0 ? -v : v;
}

static long long llmin(long long a, long long b)
{
	return a < b ? a : b;
}

/*
 * An arrow's route (all in 1/100 units): out of the bar edge facing the
 * other lane, into the gap under the upper of the two lanes, along it
 * and into the other bar: the long horizontal run never lies over bars.
 * draw() in the script computes the same path on zoom.
 */
static void route(FILE *f, long long a, long long b, long long ya, long long yb,
		  long long g)
{
	long long q = llmin(llmin(600, (b - a) / 2),
			    llmin(llabs_(g - ya), llabs_(yb - g)));
	long long d1 = g > ya ? 1 : -1, d2 = yb > g ? 1 : -1;
	const long long pts[][2] = {
	    {a, ya},	{a, g - d1 * q}, {a, g},	  {a + q, g},
	    {b - q, g}, {b, g},		 {b, g + d2 * q}, {b, yb},
	};
	static const char *const cmd[] = {"M",	" L", " Q", " ",
					  " L", " Q", " ",  " L"};

	for (size_t i = 0; i < 8; i++) {
		fputs(cmd[i], f);
		fx(f, pts[i][0]);
		fputc(' ', f);
		fx(f, pts[i][1]);
	}
}

static void flows(const struct ust_x_model *m, FILE *f, size_t limit)
{
	size_t n = 0;

	size_t drawn = 0;

	for (size_t i = 0; i < m->nflows && drawn < MAX_FLOWS; i++)
		drawn += m->flows[i].pa < limit && m->flows[i].pb < limit;
	/* the script re-decides "dense" for each view */
	fprintf(f,
		"<g id=\"flows\" clip-path=\"url(#plot)\" data-dense=\"%d\"%s>"
		"\n",
		DENSE_FLOWS, drawn > DENSE_FLOWS ? " class=\"dense\"" : "");
	for (size_t i = 0; i < m->nflows && n < MAX_FLOWS; i++) {
		const struct ust_x_flow *fl = &m->flows[i];
		const struct ust_x_poll *pa = &m->polls[fl->pa];
		const struct ust_x_poll *pb = &m->polls[fl->pb];
		int down = pb->worker > pa->worker;
		int ya = lane_y(pa->worker) + BAR_Y + (down ? BAR_H : 0);
		int yb = lane_y(pb->worker) + BAR_Y + (down ? 0 : BAR_H);
		int g = lane_y(down ? pa->worker : pb->worker) + GAP_Y +
			(int)(i % GAP_ROWS) * 3;
		int hop = fl->kind == UST_X_HOP;

		if (fl->pa >= limit || fl->pb >= limit)
			continue; /* its slices were not drawn */
		n++;
		fprintf(f,
			"<path class=\"%s\" data-a=\"%llu\" data-b=\"%llu\" "
			"data-ya=\"%d\" data-yb=\"%d\" data-g=\"%d\" "
			"marker-end=\"url(#%s)\" d=\"",
			hop ? "hop" : "wk", (unsigned long long)fl->ta,
			(unsigned long long)fl->tb, ya, yb, g,
			hop ? "ah" : "aw");
		route(f, xc(m, fl->ta), xc(m, fl->tb), ya * 100ll, yb * 100ll,
		      g * 100ll);
		if (hop)
			fprintf(f,
				"\"><title>task %llu hopped w%u &#8594; w%u "
				"(%s)</title></path>\n",
				(unsigned long long)fl->task, pa->worker,
				pb->worker, why_hop(fl->reason));
		else
			fprintf(f,
				"\"><title>task %llu (on w%u) woke task %llu, "
				"which ran next on w%u</title></path>\n",
				(unsigned long long)pa->task, pa->worker,
				(unsigned long long)fl->task, pb->worker);
	}
	fputs("</g>\n", f);
}

static void marks(const struct ust_x_model *m, FILE *f)
{
	char b1[48];

	fputs("<g id=\"marks\" clip-path=\"url(#plot)\">\n", f);
	for (size_t i = 0; i < m->nmarks; i++) {
		const struct ust_x_mark *k = &m->marks[i];
		const struct ust_event *e = &k->ev;
		int y;

		if (e->worker == UST_NO_WORKER || e->worker >= m->nworkers)
			continue;
		y = lane_y(e->worker);
		fprintf(f, "<g data-t=\"%llu\" transform=\"translate(",
			(unsigned long long)k->t);
		fx(f, xc(m, k->t));
		fputs(" 0)\">", f);
		switch (e->type) {
		case UST_STEAL:
			fprintf(f,
				"<path class=\"steal\" d=\"M-5 %d h10 l-5 8z\">"
				"<title>worker %u stole %u task%s from worker "
				"%u</title></path>",
				y + 1, e->worker, e->arg,
				e->arg == 1 ? "" : "s", e->worker2);
			break;
		case UST_ABORT:
			fprintf(f,
				"<path class=\"abort\" d=\"M-4 %d l8 8 m0 -8 "
				"l-8 8\"><title>task %llu aborted</title>"
				"</path>",
				y + BAR_Y + 12, (unsigned long long)e->task);
			break;
		case UST_MIGRATE: /* drawn only when the log has no polls */
			fprintf(f,
				"<circle class=\"steal\" r=\"4\" cx=\"0\" "
				"cy=\"%d\"><title>task %llu moved here from "
				"worker %u</title></circle>",
				y + BAR_Y + BAR_H / 2,
				(unsigned long long)e->task, e->worker2);
			break;
		case UST_LONG_POLL:
			fprintf(f,
				"<text class=\"lp\" x=\"-3\" y=\"%d\">!<title>"
				"long poll: task %llu blocked worker %u for %s"
				"</title></text>",
				y + BAR_Y - 1, (unsigned long long)e->task,
				e->worker, hhuman(e->data, b1));
			break;
		}
		fputs("</g>\n", f);
	}
	fputs("</g>\n", f);
}

static int busy_cmp(const void *a, const void *b)
{
	const struct ust_x_task *x = *(const struct ust_x_task *const *)a;
	const struct ust_x_task *y = *(const struct ust_x_task *const *)b;

	if (x->busy_ns != y->busy_ns)
		return x->busy_ns > y->busy_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int legend(const struct ust_x_model *m, FILE *f)
{
	const struct ust_x_task **v = malloc((m->ntasks + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap_tasks; i++)
		if (m->tasks[i].used && m->tasks[i].polls)
			v[n++] = &m->tasks[i];
	qsort(v, n, sizeof(*v), busy_cmp);
	fputs("<div class=\"legend\"><b>tasks</b>", f);
	for (size_t i = 0; i < n && i < LEGEND_TASKS; i++)
		fprintf(f,
			"<span><i class=\"sw\" style=\"background:hsl(%u,62%%,"
			"52%%)\"></i>task %llu (%u hop%s)</span>",
			ust_x_task_hue(v[i]->id), (unsigned long long)v[i]->id,
			v[i]->hops, v[i]->hops == 1 ? "" : "s");
	if (n > LEGEND_TASKS)
		fprintf(f, "<span>&hellip; %zu more</span>", n - LEGEND_TASKS);
	free(v);
	fputs("</div>\n<div class=\"legend\"><b>key</b>"
	      "<span><svg width=\"34\" height=\"14\" style=\"border:0\">"
	      "<path d=\"M2 7 H26\" class=\"hop\" marker-end=\"url(#ah)\"/>"
	      "</svg>task hop (worker change)</span>"
	      "<span><svg width=\"34\" height=\"14\" style=\"border:0\">"
	      "<path d=\"M2 7 H26\" class=\"wk\" marker-end=\"url(#aw)\"/>"
	      "</svg>cross-worker wake</span>"
	      "<span><svg width=\"22\" height=\"12\" style=\"border:0\">"
	      "<rect width=\"22\" height=\"10\" y=\"1\" class=\"park\"/>"
	      "</svg>parked</span>"
	      "<span><svg width=\"22\" height=\"12\" style=\"border:0\">"
	      "<rect width=\"22\" height=\"10\" y=\"1\" class=\"pre\"/>"
	      "</svg>preempted by the OS</span>"
	      "<span><svg width=\"12\" height=\"10\" style=\"border:0\">"
	      "<path class=\"steal\" d=\"M1 1 h10 l-5 7z\"/></svg>steal "
	      "(on the thief)</span>"
	      "<span><svg width=\"22\" height=\"14\" style=\"border:0\">"
	      "<rect x=\"2\" y=\"2\" width=\"18\" height=\"10\" "
	      "class=\"p long\" fill=\"#bbb\"/></svg>long poll</span>"
	      "<span><svg width=\"12\" height=\"12\" style=\"border:0\">"
	      "<path class=\"abort\" d=\"M2 2 l8 8 m0 -8 l-8 8\"/></svg>abort"
	      "</span></div>\n",
	      f);
	return 0;
}

int ust_x_write_html(const struct ust_x_model *m, FILE *f)
{
	int h = TOP + (int)m->nworkers * LANE_H + 6;
	size_t limit = 0, closed = 0;
	struct ust_x_model v = *m; /* the drawn part: v.span_ns may be less */
	const struct ust_x_model *orig;
	int err;

	for (size_t i = 0; i < m->npolls; i++) {
		if (!m->polls[i].closed)
			continue;
		if (++closed == MAX_POLLS)
			v.span_ns = m->polls[i].e; /* the page ends here */
	}
	header(m, &v, f, closed < MAX_POLLS ? closed : MAX_POLLS, closed);
	orig = m;
	m = &v;
	fprintf(f,
		"<svg id=\"tl\" "
		"viewBox=\"0 0 %d %d\" data-x0=\"%d\" data-x1=\"%d\" "
		"data-h=\"%d\" data-span=\"%llu\">\n",
		VB_W, h, PX0, PX1, h,
		(unsigned long long)(m->span_ns ? m->span_ns : 1));
	fprintf(
	    f,
	    "<defs><clipPath id=\"plot\"><rect x=\"%d\" y=\"0\" "
	    "width=\"%d\" height=\"%d\"/></clipPath>\n"
	    "<pattern id=\"hatch\" width=\"6\" height=\"6\" "
	    "patternUnits=\"userSpaceOnUse\" "
	    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" "
	    "fill=\"#d9dee5\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" "
	    "stroke=\"#97a3b3\" stroke-width=\"2.5\"/></pattern>\n"
	    "<marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
	    "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">"
	    "<path d=\"M0 0 L10 5 L0 10z\" fill=\"#1d232b\"/></marker>\n"
	    "<marker id=\"aw\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
	    "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">"
	    "<path d=\"M0 0 L10 5 L0 10z\" fill=\"#2a6fdb\"/></marker>"
	    "</defs>\n",
	    PX0, PX1 - PX0, h);
	lanes(orig, f); /* totals over the whole trace */
	fputs("<g id=\"axis\"></g>\n", f);
	spans(m, f);
	polls(m, f, &limit);
	flows(m, f, limit);
	marks(m, f);
	fputs("</svg>\n", f);
	err = legend(m, f);
	if (err)
		return err;
	fprintf(f, "<script>\n%s%s</script>\n</body>\n</html>\n", js1, js2);
	return ferror(f) ? -EIO : 0;
}
