// ztmesh-interop: go-spiffe v2's Workload API client and spiffetls, driven by ztmesh's interop tests
// (test/interop/*.test.ts). Every command reads SPIFFE_ENDPOINT_SOCKET, as a go-spiffe app does, and prints JSON lines.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

type audiences []string

func (a *audiences) String() string     { return strings.Join(*a, ",") }
func (a *audiences) Set(v string) error { *a = append(*a, v); return nil }

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(err error) {
	emit(map[string]string{"error": err.Error()})
	os.Exit(1)
}

func keySha(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// x509Watcher prints one line per X.509 context update and stops after n.
type x509Watcher struct {
	n      int
	seen   int
	cancel context.CancelFunc
}

func (w *x509Watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	svid := c.DefaultSVID()
	roots := 0
	if b, err := c.Bundles.GetX509BundleForTrustDomain(svid.ID.TrustDomain()); err == nil {
		roots = len(b.X509Authorities())
	}
	emit(map[string]any{"spiffeId": svid.ID.String(), "serial": svid.Certificates[0].SerialNumber.Text(16), "publicKeySha256": keySha(svid.Certificates[0].PublicKey), "roots": roots})
	w.seen++
	if w.seen >= w.n {
		w.cancel()
	}
}

func (w *x509Watcher) OnX509ContextWatchError(err error) {
	emit(map[string]string{"watchError": err.Error()})
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: ztmesh-interop x509|jwt|validate|dial|serve [flags]"))
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var auds audiences
	fs.Var(&auds, "aud", "audience (repeatable)")
	n := fs.Int("n", 1, "x509: updates to wait for")
	timeout := fs.Duration("timeout", 20*time.Second, "give up after")
	token := fs.String("token", "", "validate: the JWT-SVID")
	addr := fs.String("addr", "", "dial: host:port; serve: listen address")
	id := fs.String("id", "", "dial: the server's SPIFFE ID; serve: the client's; jwt: the SPIFFE ID to ask for (spiffe_id)")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	switch cmd {
	case "x509":
		// WatchX509Context streams FetchX509SVID: one line per SVID (first at once, then each rotation).
		w := &x509Watcher{n: *n, cancel: cancel}
		err := workloadapi.WatchX509Context(ctx, w)
		if w.seen < w.n {
			fail(fmt.Errorf("%d of %d updates: %v", w.seen, w.n, err))
		}
	case "jwt":
		// FetchJWTSVID (for -id, when given), then FetchJWTBundles, then jwtsvid.ParseAndValidate against that bundle.
		params := jwtsvid.Params{Audience: auds[0], ExtraAudiences: auds[1:]}
		if *id != "" {
			subject, err := spiffeid.FromString(*id)
			if err != nil {
				fail(err)
			}
			params.Subject = subject
		}
		client, err := workloadapi.New(ctx)
		if err != nil {
			fail(err)
		}
		defer client.Close()
		svid, err := client.FetchJWTSVID(ctx, params)
		if err != nil {
			fail(err)
		}
		bundles, err := client.FetchJWTBundles(ctx)
		if err != nil {
			fail(err)
		}
		validated, err := jwtsvid.ParseAndValidate(svid.Marshal(), bundles, auds[:1])
		if err != nil {
			fail(err)
		}
		emit(map[string]any{"spiffeId": svid.ID.String(), "token": svid.Marshal(), "validatedId": validated.ID.String(), "audience": validated.Audience, "expiry": validated.Expiry.Unix(), "bundleKeys": bundleKeys(bundles, svid.ID.TrustDomain())})
	case "validate":
		// A token checked by go-spiffe alone, with the bundle from FetchJWTBundles.
		bundles, err := workloadapi.FetchJWTBundles(ctx)
		if err != nil {
			fail(err)
		}
		v, err := jwtsvid.ParseAndValidate(*token, bundles, auds)
		if err != nil {
			emit(map[string]any{"valid": false, "error": err.Error()})
			return
		}
		emit(map[string]any{"valid": true, "spiffeId": v.ID.String()})
	case "dial":
		// NewX509Source + spiffetls: mTLS straight to a ztmesh sidecar's inbound, authorizing its SPIFFE ID.
		source, serverID := sourceAndID(ctx, *id)
		defer source.Close()
		conn, err := spiffetls.DialWithMode(ctx, "tcp", *addr, spiffetls.MTLSClientWithSource(tlsconfig.AuthorizeID(serverID), source))
		if err != nil {
			fail(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(*timeout))
		if _, err := conn.Write([]byte("ping from go-spiffe\n")); err != nil {
			fail(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			fail(err)
		}
		emit(map[string]string{"reply": strings.TrimSpace(line)})
	case "serve":
		// A go-spiffe mTLS server that admits one client SPIFFE ID (a ztmesh sidecar's outbound) and echoes a line.
		source, clientID := sourceAndID(ctx, *id)
		defer source.Close()
		ln, err := spiffetls.ListenWithMode(ctx, "tcp", *addr, spiffetls.MTLSServerWithSource(tlsconfig.AuthorizeID(clientID), source))
		if err != nil {
			fail(err)
		}
		defer ln.Close()
		emit(map[string]string{"listening": ln.Addr().String()})
		go func() { <-ctx.Done(); ln.Close() }()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveOne(conn)
		}
	default:
		fail(fmt.Errorf("unknown command %q", cmd))
	}
}

// sourceAndID opens an X509Source on the Workload API and parses the peer's SPIFFE ID to authorize.
func sourceAndID(ctx context.Context, id string) (*workloadapi.X509Source, spiffeid.ID) {
	source, err := workloadapi.NewX509Source(ctx)
	if err != nil {
		fail(err)
	}
	peer, err := spiffeid.FromString(id)
	if err != nil {
		source.Close()
		fail(err)
	}
	return source, peer
}

func bundleKeys(bundles *jwtbundle.Set, td spiffeid.TrustDomain) []string {
	b, err := bundles.GetJWTBundleForTrustDomain(td)
	if err != nil {
		return nil
	}
	keys := []string{}
	for kid := range b.JWTAuthorities() {
		keys = append(keys, kid)
	}
	return keys
}

func serveOne(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	peer, idErr := spiffetls.PeerIDFromConn(conn)
	if err != nil || idErr != nil {
		emit(map[string]string{"refused": fmt.Sprint(err, idErr)})
		return
	}
	emit(map[string]string{"peerId": peer.String(), "got": strings.TrimSpace(line)})
	_, _ = conn.Write([]byte("hello " + peer.String() + "\n"))
}
