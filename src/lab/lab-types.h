/* weft lab: constants shared by the lab's files (DESIGN.md "The lab"). */
#pragma once

#define WF_LAB_STATE_ROOT "/run/weft/lab"
#define WF_LAB_DEFAULT_NAME "weft"
#define WF_LAB_NAME_MAX 16   /* keeps netns and file names short */
#define WF_LAB_MAX_NODES 50  /* node podCIDRs 10.244.<n>.0/24, underlay .10+n */
#define WF_LAB_MAX_PODS 2000 /* per lab */

#define WF_LAB_POD_CIDR_PREFIX "10.244." /* node n gets 10.244.n.0/24 */
#define WF_LAB_SERVICE_CIDR "10.96.0.0/12"
#define WF_LAB_DNS_IP "10.96.0.10"
#define WF_LAB_NODEPORT_MIN 30000
#define WF_LAB_NODEPORT_MAX 32767
#define WF_LAB_ECHO_IMAGE "weft/echo"
#define WF_LAB_DNS_IMAGE "weft/dns"
#define WF_LAB_AGENT_ADMIN "127.0.0.1:9402" /* in each node netns */
#define WF_LAB_SLICE_MAX 100 /* endpoints per EndpointSlice, as the controller does */
